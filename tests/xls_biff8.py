"""A minimal Excel 97-2003 (.xls, BIFF8) writer for tests: the roster shapes HR offices still
send as .xls, built here byte by byte because no maintained library writes .xls (xlwt has been
unmaintained since 2017) and LibreOffice is not a test dependency.

Layout from Microsoft's open specifications: [MS-XLS] (BIFF8 records: BOF, CODEPAGE, DATEMODE,
FONT, FORMAT, XF, BOUNDSHEET, DIMENSIONS, LABEL, NUMBER, MERGEDCELLS, EOF) inside an [MS-CFB]
compound file version 3 (512-byte sectors, one FAT sector, one directory sector, the "Workbook"
stream padded to the 4096-byte mini-stream cutoff so it lives in regular sectors). Only what a
roster needs: text cells (UTF-16), numbers, and number formats for dates and leading zeros.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
FATSECT = 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
SECTOR = 512


def _record(rtype: int, data: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _unicode(text: str, lenlen: int) -> bytes:
    """XLUnicodeString: character count, flags 1 (UTF-16LE, uncompressed), the characters."""
    head = struct.pack("<B" if lenlen == 1 else "<H", len(text))
    return head + b"\x01" + text.encode("utf-16-le")


@dataclass(frozen=True)
class Num:
    """A number cell shown with ``fmt`` (an Excel number format code, or a built-in id)."""

    value: float
    fmt: str | int = 0


def excel_serial(day: date) -> float:
    """The 1900-system day number Excel stores for ``day``."""
    return float((day - date(1899, 12, 30)).days)


def write_xls(path: Path, rows: list[list[str | Num | None]], *, merge_first_row: int = 0) -> Path:
    """``rows`` (text, ``Num`` or empty) as the first sheet of a BIFF8 workbook at ``path``.
    ``merge_first_row`` > 1 merges that many cells of row 1 (a title above the header)."""
    custom: dict[str, int] = {}
    for row in rows:
        for cell in row:
            if isinstance(cell, Num) and isinstance(cell.fmt, str) and cell.fmt not in custom:
                custom[cell.fmt] = 164 + len(custom)  # user formats start at 164
    fmt_ids = sorted(
        {
            c.fmt if isinstance(c.fmt, int) else custom[c.fmt]
            for r in rows
            for c in r
            if isinstance(c, Num)
        }
        | {0}
    )
    xf_of = {fid: 16 + i for i, fid in enumerate(fmt_ids)}  # 0-14 style XFs, 15 default

    globals_ = bytearray()
    globals_ += _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    globals_ += _record(0x0042, struct.pack("<H", 1200))  # CODEPAGE: UTF-16
    globals_ += _record(0x0022, struct.pack("<H", 0))  # DATEMODE: 1900 system
    font = struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + _unicode("Arial", 1)
    for _ in range(5):  # index 4 is never used in BIFF; five keep indexes 0-5 valid
        globals_ += _record(0x0031, font)
    for code, fid in custom.items():
        globals_ += _record(0x041E, struct.pack("<H", fid) + _unicode(code, 2))
    style_xf = struct.pack("<HHHHHIIH", 0, 0, 0xFFF5, 0x20, 0, 0, 0, 0x20C0)
    for _ in range(15):
        globals_ += _record(0x00E0, style_xf)
    for fid in [0, *fmt_ids]:  # XF 15 (default cell), then one per format used
        globals_ += _record(0x00E0, struct.pack("<HHHHHIIH", 0, fid, 0x0001, 0x20, 0, 0, 0, 0x20C0))
    sheet_name = _unicode("名单", 1)
    boundsheet_at = len(globals_)
    globals_ += _record(0x0085, struct.pack("<IH", 0, 0) + sheet_name)
    globals_ += _record(0x000A, b"")

    sheet = bytearray()
    sheet += _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
    width = max((len(r) for r in rows), default=0)
    sheet += _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if cell is None or cell == "":
                continue
            if isinstance(cell, Num):
                fid = cell.fmt if isinstance(cell.fmt, int) else custom[cell.fmt]
                sheet += _record(0x0203, struct.pack("<HHHd", r, c, xf_of[fid], cell.value))
            else:
                sheet += _record(0x0204, struct.pack("<HHH", r, c, 15) + _unicode(cell, 2))
    if merge_first_row > 1:
        sheet += _record(0x00E5, struct.pack("<HHHHH", 1, 0, 0, 0, merge_first_row - 1))
    sheet += _record(0x000A, b"")

    stream = bytearray(globals_)
    struct.pack_into("<I", stream, boundsheet_at + 4, len(globals_))  # the sheet's BOF offset
    stream += sheet
    stream += b"\x00" * (max(4096, -(-len(stream) // SECTOR) * SECTOR) - len(stream))
    path.write_bytes(_compound_file(bytes(stream)))
    return path


def _dir_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
        + struct.pack("<III", NOSTREAM, NOSTREAM, child)
        + b"\x00" * 16  # CLSID
        + struct.pack("<I", 0)  # state bits
        + b"\x00" * 16  # creation, modification times
        + struct.pack("<II", start, size)
        + struct.pack("<I", 0)
    )


def _compound_file(stream: bytes) -> bytes:
    sectors = len(stream) // SECTOR
    assert 2 + sectors <= SECTOR // 4, "one FAT sector holds 128 entries"
    fat = [FATSECT, ENDOFCHAIN]
    fat += [2 + i + 1 for i in range(sectors - 1)] + [ENDOFCHAIN]
    fat += [FREESECT] * (SECTOR // 4 - len(fat))
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
        + struct.pack("<I", 0)  # DIFAT[0]: the FAT is sector 0
        + struct.pack("<I", FREESECT) * 108
    )
    directory = (
        _dir_entry("Root Entry", 5, 1, ENDOFCHAIN, 0)
        + _dir_entry("Workbook", 2, NOSTREAM, 2, len(stream))
        + _dir_entry("", 0, NOSTREAM, 0, 0) * 2
    )
    return header + struct.pack(f"<{SECTOR // 4}I", *fat) + directory + stream
