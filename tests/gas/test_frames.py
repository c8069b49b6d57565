"""Winsen ZE and PMS5003 frame parsers against the byte vectors of sensors.md (§1, §2, §5)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_adapters.gas.adapter import AdapterStats
from firmware_adapters.gas.config import IndicatorOnlyWarning, Pms5003Config, WinsenZeConfig
from firmware_adapters.gas.pms5003 import ACTIVE_MODE as PMS_ACTIVE
from firmware_adapters.gas.pms5003 import PmsParser
from firmware_adapters.gas.winsen import (
    ACTIVE_MODE,
    QA_MODE,
    READ_COMMAND,
    WinsenParser,
    checksum,
)

GOOD_ZE07 = bytes.fromhex("FF0403010025138838")  # corrected library vector: 3.7 ppm CO
BAD_ZE07 = bytes.fromhex("FF0403010025138825")  # the library comment's wrong checksum


def winsen(**kw: object) -> tuple[WinsenParser, AdapterStats]:
    stats = AdapterStats()
    cfg = WinsenZeConfig(id="s1", port="/dev/null", **kw)
    return WinsenParser(cfg, stats), stats


def pms(**kw: object) -> tuple[PmsParser, AdapterStats]:
    stats = AdapterStats()
    with pytest.warns(IndicatorOnlyWarning):
        cfg = Pms5003Config(id="p1", port="/dev/null", **kw)
    return PmsParser(cfg, stats), stats


def pms_frame(pm: tuple[int, int, int], atm: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    body = struct.pack(">2sH6H6HH", b"BM", 28, *pm, *atm, 0, 0, 0, 0, 0, 0, 0)
    return body + struct.pack(">H", sum(body) & 0xFFFF)


# ---- Winsen


def test_host_commands_carry_the_documented_checksums() -> None:
    assert READ_COMMAND.hex() == "ff0186000000000079"
    assert QA_MODE["new"].hex() == "ff0178410000000046"
    assert ACTIVE_MODE["new"].hex() == "ff0178400000000047"
    assert QA_MODE["old"].hex() == "ff0178040000000083"
    # the fega library sends ...78 03... with 83; the right checksum is 84 (§5)
    assert ACTIVE_MODE["old"].hex() == "ff0178030000000084"


def test_checksum_sums_bytes_one_to_seven_only() -> None:
    assert checksum(GOOD_ZE07) == 0x38
    assert checksum(bytes.fromhex("FF86002A0000002030")) == 0x30  # CH2O Q&A manual example


def test_active_frame_decodes_value_unit_decimals_full_range() -> None:
    parser, stats = winsen(model="ze07")
    [v] = parser.feed(GOOD_ZE07)
    assert (v.gas, v.unit, v.fault) == ("co", "ppm", False)
    assert v.value is not None
    assert abs(v.value - 3.7) < 1e-9  # (0x00*256 + 0x25) * 10^-1
    assert v.full_scale == 500.0  # 0x1388 = 5000 counts * 0.1
    assert stats.frames_ok == 1


def test_bad_checksum_is_rejected_and_counted() -> None:
    parser, stats = winsen(model="ze07")
    assert parser.feed(BAD_ZE07) == []
    assert stats.checksum_errors >= 1
    assert stats.frames_ok == 0


def test_resynchronises_after_garbage_and_mid_frame_start() -> None:
    parser, stats = winsen(model="ze07")
    stream = GOOD_ZE07[4:] + b"\x13\xff\x00garbage\xff" + GOOD_ZE07 + BAD_ZE07 + GOOD_ZE07
    values = []
    for i in range(0, len(stream), 5):  # arrives in awkward chunks
        values += parser.feed(stream[i : i + 5])
    assert len(values) == 2
    assert stats.checksum_errors >= 1
    assert stats.bytes_discarded > 0


def test_value_is_high_times_256_not_255() -> None:
    parser, _ = winsen(model="ze07")
    frame = bytearray.fromhex("FF040301012C138800")
    frame[8] = checksum(frame)
    [v] = parser.feed(bytes(frame))
    assert v.value is not None
    assert abs(v.value - 30.0) < 1e-9  # (1*256 + 44) * 0.1, not (1*255 + 44) * 0.1


def test_ze15_fault_bit_gives_no_value_never_3277_ppm() -> None:
    parser, _ = winsen(model="ze15")
    frame = bytearray.fromhex("FF040301800A138800")
    frame[8] = checksum(frame)
    [v] = parser.feed(bytes(frame))
    assert v.fault
    assert v.value is None


def test_ze15_masks_high_byte_to_five_bits() -> None:
    parser, _ = winsen(model="ze15")
    frame = bytearray.fromhex("FF040301600A138800")  # bits 5-6 set, bit 7 clear
    frame[8] = checksum(frame)
    [v] = parser.feed(bytes(frame))
    assert not v.fault
    assert v.value is not None
    assert abs(v.value - 1.0) < 1e-9  # (0x60 & 0x1F = 0) * 256 + 10 -> 1.0 ppm


def test_frame_of_another_gas_is_rejected() -> None:
    parser, stats = winsen(model="ze07")  # expects CO
    frame = bytearray.fromhex("FF0303000005006400")  # H2S
    frame[8] = checksum(frame)
    assert parser.feed(bytes(frame)) == []
    assert stats.rejected_frames == 1


def test_qa_reply_uses_b2_b3_not_the_manual_typo() -> None:
    parser, _ = winsen(model="ze07", mode="qa", gas="co", unit="ppm")
    frame = bytearray.fromhex("FF8601F400FF000000")  # B2B3 = 500 counts; B4/B6 are noise
    frame[8] = checksum(frame)
    [v] = parser.feed(bytes(frame))
    assert v.value is not None
    assert abs(v.value - 50.0) < 1e-9


def test_ch2o_qa_reply_reads_ppb_from_b6_b7() -> None:
    parser, _ = winsen(model="ze08", mode="qa", gas="ch2o", unit="ppb")
    [v] = parser.feed(bytes.fromhex("FF86002A0000002030"))  # manual: 42 ug/m3, 32 ppb
    assert (v.value, v.unit) == (32.0, "ppb")


def test_mode_ack_is_not_a_reading() -> None:
    parser, _ = winsen(model="ze07")
    assert parser.feed(bytes.fromhex("FF7801000000000087")) == []
    assert parser.acks == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_never_crash_and_never_yield_a_reading(chunks: list[bytes]) -> None:
    parser, _ = winsen(model="ze15")
    out = []
    for c in chunks:
        out += parser.feed(c)
    assert out == []
    assert len(parser._buf) < 9  # never hoards a full frame's worth of junk


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_valid_frame_survives_any_preceding_garbage(junk: bytes) -> None:
    parser, _ = winsen(model="ze07")
    values = parser.feed(junk + GOOD_ZE07 + GOOD_ZE07)
    # the garbage may swallow at most the first frame (a stray FF overlapping it)
    assert len(values) >= 1
    assert values[-1].value is not None
    assert abs(values[-1].value - 3.7) < 1e-9


# ---- PMS5003


def test_pms_frame_decodes_cf1_fields() -> None:
    parser, stats = pms()
    assert parser.feed(pms_frame((5, 12, 20), (4, 10, 15))) == [(5, 12, 20)]
    assert stats.frames_ok == 1


def test_pms_atmospheric_fields_when_configured() -> None:
    parser, _ = pms(fields="atm")
    assert parser.feed(pms_frame((5, 12, 20), (4, 10, 15))) == [(4, 10, 15)]


def test_pms_truncated_frame_then_valid_one_resynchronises() -> None:
    parser, stats = pms()
    good = pms_frame((1, 2, 3))
    out = parser.feed(good[:30] + good + good)
    assert out[-2:] == [(1, 2, 3), (1, 2, 3)]
    assert stats.checksum_errors + stats.framing_errors >= 1


def test_pms_wrong_length_field_is_a_framing_error() -> None:
    parser, stats = pms()
    bad = bytearray(pms_frame((1, 2, 3)))
    bad[3] = 26
    assert parser.feed(bytes(bad)) == []
    assert stats.framing_errors == 1


def test_pms_bad_checksum_counted() -> None:
    parser, stats = pms()
    bad = bytearray(pms_frame((1, 2, 3)))
    bad[31] ^= 0xFF
    assert parser.feed(bytes(bad)) == []
    assert stats.checksum_errors == 1


def test_pms_active_mode_command_checksum() -> None:
    assert bytes.fromhex("424DE100010171") == PMS_ACTIVE
    assert sum(PMS_ACTIVE[:5]) == 0x0171


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=20))
def test_pms_random_bytes_never_crash_never_yield(chunks: list[bytes]) -> None:
    parser, _ = pms()
    out = []
    for c in chunks:
        out += parser.feed(c)
    assert out == []
