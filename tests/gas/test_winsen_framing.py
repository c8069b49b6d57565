"""Winsen framing resynchronises on the header and continuity, not the checksum alone (issue 12.5).

Every 9-byte Winsen frame sums to 0xFF, so in a stream of identical frames any window that
starts at an 0xFF byte passes the checksum. The field cases (a ZE15 at a steady 9.4 ppm, whose
checksum is 0xFF) gave no reading at all after the port was opened mid-frame or one stray byte.
"""

from __future__ import annotations

import os
import pty
import tty
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.clock import SystemClock
from firmware_adapters.gas.adapter import AdapterStats
from firmware_adapters.gas.config import WinsenZeConfig
from firmware_adapters.gas.winsen import WinsenAdapter, WinsenParser, checksum
from tests.conditions import until
from tests.datasets import FIELD_CASES
from tests.gas.conftest import Background, Collector

CASES = FIELD_CASES / "winsen"
CLOCK = SystemClock(assume_trusted=True)


def ze15_frame(counts: int, *, fault: bool = False) -> bytes:
    """An active-upload ZE15-CO frame: 0.1 ppm per count, full range 500 ppm."""
    frame = bytearray([0xFF, 0x04, 0x03, 0x01, (counts >> 8) | (0x80 if fault else 0)])
    frame += bytes([counts & 0xFF, 0x13, 0x88, 0])
    frame[8] = checksum(frame)
    return bytes(frame)


def parser() -> tuple[WinsenParser, AdapterStats]:
    stats = AdapterStats()
    cfg = WinsenZeConfig(id="co1", port="/dev/null", model="ze15")
    return WinsenParser(cfg, stats), stats


def test_the_field_frame_is_the_one_whose_checksum_is_ff() -> None:
    frame = ze15_frame(94)
    assert frame[8] == 0xFF
    assert CASES.joinpath("ze15_9.4ppm_joined_at_byte7.bin").read_bytes()[2:11] == frame


def test_field_stream_joined_mid_frame_reads_from_the_first_whole_frame() -> None:
    data = CASES.joinpath("ze15_9.4ppm_joined_at_byte7.bin").read_bytes()
    p, _ = parser()
    values = p.feed(data)
    assert len(values) == (len(data) - 2) // 9 == 10
    assert all(v.value is not None and abs(v.value - 9.4) < 1e-9 for v in values)


def test_field_stream_with_one_stray_ff_loses_at_most_one_frame() -> None:
    data = CASES.joinpath("ze15_9.4ppm_glitch.bin").read_bytes()
    p, _ = parser()
    values = [v for i in range(len(data)) for v in p.feed(data[i : i + 1])]  # byte by byte
    assert len(values) >= len(data) // 9 - 1
    assert all(v.value is not None and abs(v.value - 9.4) < 1e-9 for v in values)


counts = st.integers(min_value=0, max_value=0x1FFF)


@settings(max_examples=400, deadline=None)
@given(counts, st.integers(min_value=0, max_value=8), st.integers(min_value=2, max_value=6))
def test_joined_at_any_byte_reads_every_whole_frame(value: int, join: int, n: int) -> None:
    frame = ze15_frame(value)
    p, _ = parser()
    values = p.feed(frame[join:] + frame * n)
    assert len(values) == n + (join == 0)
    assert all(v.value is not None and abs(v.value - value / 10) < 1e-9 for v in values)


@settings(max_examples=600, deadline=None)
@given(
    counts,
    st.integers(min_value=3, max_value=8),
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=255),
)
def test_one_stray_byte_anywhere_costs_at_most_one_frame(
    value: int, n: int, where: int, stray: int
) -> None:
    frame = ze15_frame(value)
    stream = frame * n
    at = where % (len(stream) + 1)
    p, _ = parser()
    values = p.feed(stream[:at] + bytes([stray]) + stream[at:])
    # The first frame is confirmed by the second, so damage to either costs both; later, one.
    assert len(values) >= n - (2 if at < 2 * len(frame) else 1)
    assert all(v.value is not None and abs(v.value - value / 10) < 1e-9 for v in values)


@settings(max_examples=300, deadline=None)
@given(counts, st.integers(min_value=3, max_value=6), st.integers(min_value=0))
def test_a_stray_copy_of_the_checksum_inside_a_frame_never_gives_a_wrong_value(
    value: int, n: int, where: int
) -> None:
    """Inserting the checksum byte inside a frame keeps the checksum and the next start byte
    right and shifts the value: only the fixed bytes tell (module docstring)."""
    frame = ze15_frame(value)
    stream = frame * n
    at = where % len(stream)
    p, _ = parser()
    values = p.feed(stream[:at] + frame[8:] + stream[at:])
    assert len(values) >= n - 2
    assert all(v.value is not None and abs(v.value - value / 10) < 1e-9 for v in values)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(counts, min_size=3, max_size=8),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=3)), max_size=3),
    st.integers(min_value=1, max_value=12),
)
def test_changing_values_with_noise_in_any_chunking_never_decode_a_foreign_gas(
    values_in: list[int], noise: list[tuple[int, bytes]], chunk: int
) -> None:
    stream = bytearray(b"".join(ze15_frame(v) for v in values_in))
    for where, junk in noise:
        at = where % (len(stream) + 1)
        stream[at:at] = junk
    p, _ = parser()
    out = [v for i in range(0, len(stream), chunk) for v in p.feed(bytes(stream[i : i + chunk]))]
    # Each noise burst can cost the frames it touches and the one after it, no more.
    assert len(out) >= len(values_in) - 2 * len(noise)
    assert all(v.gas == "co" and v.unit == "ppm" for v in out)


def _pty(ports: Path) -> tuple[int, Path]:
    master, slave = pty.openpty()
    tty.setraw(master)
    link = ports / "ttyCO"
    link.symlink_to(os.ttyname(slave))
    os.close(slave)  # the adapter opens it by name; keeping the master is enough
    return master, link


async def _replay(ports: Path, collector: Collector, background: Background, data: bytes) -> int:
    master, link = _pty(ports)
    try:
        cfg = WinsenZeConfig(id="co1", port=str(link), model="ze15", warmup_s=0)
        adapter = WinsenAdapter(cfg, CLOCK)
        background.start(adapter.run(collector))
        await until(lambda: adapter.stats.connected)  # written after its input flush
        os.write(master, data)
        return master
    except BaseException:
        os.close(master)
        raise


async def test_field_streams_over_a_pty_give_readings_from_the_first_whole_frame(
    ports: Path, collector: Collector, background: Background
) -> None:
    data = CASES.joinpath("ze15_9.4ppm_joined_at_byte7.bin").read_bytes()
    glitch = CASES.joinpath("ze15_9.4ppm_glitch.bin").read_bytes()
    master = await _replay(ports, collector, background, data)
    try:
        readings = await collector.wait_count(10)
        os.write(master, glitch)
        readings = await collector.wait_count(10 + len(glitch) // 9 - 1)
    finally:
        os.close(master)
    assert all(r.value is not None and abs(r.value - 9.4) < 1e-9 for r in readings)


async def test_generated_stream_with_stray_bytes_over_a_pty(
    ports: Path, collector: Collector, background: Background
) -> None:
    frame = ze15_frame(94)
    stream = bytearray(frame * 40)
    for at in (3, 100, 181, 250):  # inside a frame, at boundaries, and at checksum bytes
        stream[at:at] = b"\xff"
    master = await _replay(ports, collector, background, bytes(stream))
    try:
        readings = await collector.wait_count(40 - 4)
    finally:
        os.close(master)
    assert all(r.value is not None and abs(r.value - 9.4) < 1e-9 for r in readings)
