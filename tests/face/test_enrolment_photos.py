"""Enrolment photos as they come from phones and HR (issue 12.7), and one face under two workers
(issue 12.8): real photos, real dlib models, the real ``zonegate enroll`` command."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge.identity.enrolment import (
    SameFaceError,
    enrol,
    photo_frames,
    same_face,
    store_enrolment,
)
from edge.identity.pipeline import FacePipeline
from edge.identity.service import open_store
from edge.identity.store import EncodingStore
from edge.reasons import ReasonCode
from firmware_adapters.camera.files import (
    PHOTO_MAX_SIDE_PX,
    PhotoRefused,
    load_photo,
    load_rgb,
)
from gateway.cli import main as zonegate
from tests.datasets import FIELD_CASES

from .conftest import face_config
from .test_zone import Site, site  # noqa: F401 - the CLI test's roster and config

FIELD = FIELD_CASES / "photos"


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` (IHDR patched, CRC fixed)."""
    Image.new("L", (8, 8), 128).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def test_exif_orientation_is_applied(faces: Path) -> None:
    sideways = Image.open(FIELD / "obama_exif6.jpg")
    assert sideways.getexif().get(0x0112) == 6
    upright = load_photo(FIELD / "obama_exif6.jpg")
    stored_w, stored_h = sideways.size
    assert upright.shape[:2] == (stored_w, stored_h)  # turned a quarter: height <-> width
    plain = load_photo(faces / "obama.jpg")
    assert np.array_equal(plain, load_rgb(faces / "obama.jpg"))  # no EXIF turn: as before


def test_sideways_phone_photos_enrol_like_their_upright_versions(
    pipeline: FacePipeline, faces: Path
) -> None:
    names = [FIELD / "obama_exif6.jpg", FIELD / "obama2_exif6.jpg", faces / "obama.jpg"]
    result = enrol(pipeline, photo_frames(names))
    assert [v.reason for v in result.verdicts] == [None, None, None]
    assert all(v.ok for v in result.verdicts)
    sideways, upright = result.encodings[0], result.encodings[2]
    assert float(np.linalg.norm(sideways - upright)) < pipeline.config.tolerance


def test_a_200_mp_header_is_judged_and_the_other_photos_still_are(
    pipeline: FacePipeline, faces: Path, tmp_path: Path
) -> None:
    bomb_png = _png_declaring(tmp_path / "bomb.png", 20_000, 20_000)  # 400 MP, past Pillow's check
    big_png = _png_declaring(tmp_path / "big.png", 8_000, 6_000)  # 48 MP, cannot be reduced
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    paths = [FIELD / "header_200mp.jpg", bomb_png, faces / "obama.jpg", big_png, text]
    result = enrol(pipeline, photo_frames(paths))
    reasons = {Path(v.source).name: v.reason for v in result.verdicts}
    # The 200 MP JPEG is decoded at 1/8 scale (2040 x 1530) and judged: a flat grey, no face.
    assert reasons["header_200mp.jpg"] is ReasonCode.FACE_NOT_FOUND
    assert reasons["bomb.png"] is ReasonCode.IMAGE_TOO_LARGE
    assert reasons["big.png"] is ReasonCode.IMAGE_TOO_LARGE
    assert reasons["notes.jpg"] is ReasonCode.IMAGE_UNREADABLE
    assert reasons["obama.jpg"] is None
    details = {Path(v.source).name: v.detail or "" for v in result.verdicts}
    assert "8000 x 6000 px (48 MP)" in details["big.png"]


def test_a_huge_jpeg_is_decoded_reduced_never_whole() -> None:
    with pytest.raises(Image.DecompressionBombError):  # what ended the run before (12.7)
        Image.open(FIELD / "header_200mp.jpg")
    rgb = load_photo(FIELD / "header_200mp.jpg")
    assert max(rgb.shape[:2]) <= PHOTO_MAX_SIDE_PX
    assert rgb.shape[2] == 3 and rgb.flags["C_CONTIGUOUS"]
    with pytest.raises(PhotoRefused) as refused:
        load_photo(FIELD / "header_200mp.jpg", max_decode_pixels=1_000_000)
    assert refused.value.code == "IMAGE_TOO_LARGE"
    assert "16320 x 12240 px (200 MP)" in refused.value.detail


def test_the_same_face_under_another_worker_is_refused_naming_them(
    pipeline: FacePipeline, faces: Path, tmp_path: Path
) -> None:
    store: EncodingStore = open_store(face_config(), tmp_path)
    first = enrol(pipeline, photo_frames([faces / "obama.jpg"]))
    store_enrolment(pipeline, store, "W1", first)
    again = enrol(pipeline, photo_frames([faces / "obama2.jpg"]))
    with pytest.raises(SameFaceError) as err:
        store_enrolment(pipeline, store, "W7", again)
    assert [o.worker_id for o in err.value.others] == ["W1"]
    assert "W1" in str(err.value)
    assert store.worker_ids() == ["W1"]
    # Re-enrolling W1 itself is no conflict; someone else's face is none either.
    store_enrolment(pipeline, store, "W1", again)
    biden = enrol(pipeline, photo_frames([faces / "biden.jpg"]))
    assert same_face(store, "W2", biden.encodings, pipeline.config.tolerance) == []
    # Confirmed explicitly (twins): stored, and the conflict is reported back.
    confirmed = store_enrolment(pipeline, store, "W7", again, confirm_same_face=True)
    assert [o.worker_id for o in confirmed] == ["W1"]
    assert store.worker_ids() == ["W1", "W7"]


def test_enroll_command_refuses_the_same_face_and_names_the_worker(
    site: Site,  # noqa: F811 - the fixture imported above
    faces: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["enroll", "--config", str(site.config_path), "--photos"]
    obama = [str(faces / "obama.jpg"), str(faces / "obama_knn_test1.jpg")]
    again = [str(faces / "obama2.jpg"), str(FIELD / "obama_exif6.jpg")]
    assert zonegate([base[0], "W1", *base[1:], *obama]) == 0
    capsys.readouterr()
    assert zonegate([base[0], "W2", *base[1:], *again]) == 1
    out = capsys.readouterr().out
    assert "FACE_ENROLLED_ELSEWHERE" in out and "W1" in out and "Obama" in out
    assert "未保存任何数据" in out and "nothing stored" not in out  # the site's zh-CN
    assert zonegate([base[0], "W2", *base[1:], *again, "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "already enrolled as W1" in out and "nothing stored" in out
    store = EncodingStore(site.state / "faces.enc", site.state / "device.key")
    assert store.worker_ids() == ["W1"]
    args = [base[0], "W2", *base[1:], *again, "--confirm-same-face"]
    assert zonegate(args) == 0
    assert EncodingStore(site.state / "faces.enc", site.state / "device.key").worker_ids() == [
        "W1",
        "W2",
    ]


def test_enroll_says_why_each_photo_was_rejected_in_the_technicians_language(
    site: Site,  # noqa: F811 - the fixture imported above
    faces: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under zh-CN the reasons were codes with English details ("MULTIPLE_FACES 2 faces").
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps table cells at the terminal's width
    photos = [
        str(faces / "obama.jpg"),
        str(faces / "noface_chelsea.png"),
        str(faces / "kit_with_rose.jpg"),
        str(faces / "biden.jpg"),
        str(faces / "obama_knn_test1.jpg"),
        str(tmp_path / "missing.jpg"),
    ]
    base = ["enroll", "W1", "--config", str(site.config_path), "--photos", *photos]
    assert zonegate([*base, "--lang", "zh-CN"]) == 0
    zh = capsys.readouterr().out
    assert "FACE_NOT_FOUND 照片中没有找到人脸" in zh
    assert "MULTIPLE_FACES 照片中不止一个人（2 张人脸）" in zh
    assert "FACE_MISMATCH 与其他照片不像同一个人（距离 " in zh
    assert f"IMAGE_UNREADABLE 照片无法读取（{tmp_path / 'missing.jpg'}：" in zh
    for english in ("2 faces", "differs from", "unreadable:", "judged"):
        assert english not in zh
    assert zonegate([*base, "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert "MULTIPLE_FACES 2 faces" in en and "FACE_MISMATCH differs from the other images" in en
    assert "照片" not in en
