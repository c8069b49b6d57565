"""selftest with a technician at the terminal: a card tapped at the reader, the outputs'
test pattern; and what it says when nobody is there."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

from gateway.config import load_config
from gateway.selftest import Status, run_selftest
from tests.provision.conftest import ProvisionFn, zonegate_on_pty

REPO = Path(__file__).resolve().parents[2]


def _read_until(master: int, wanted: bytes, deadline_s: float = 30) -> bytes:
    out = b""
    end = time.monotonic() + deadline_s
    while wanted not in out:
        assert time.monotonic() < end, out.decode(errors="replace")
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_a_card_tapped_during_selftest_is_read(provision: ProvisionFn, tmp_path: Path) -> None:
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    p = provision(template=f"badge:\n  type: file\n  port: {fifo}\n  mode: in\n")
    proc, master = zonegate_on_pty(
        "selftest",
        "-c",
        str(p.config),
        "--credentials",
        str(p.credentials),
        "--lang",
        "en",
        "--tap-seconds",
        "30",
        cwd=REPO,
    )
    try:
        out = _read_until(master, b"tap a card on the reader")
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, b"C-77\n")
        finally:
            os.close(fd)
        out += _read_until(master, b"all checks passed")
        assert proc.wait(timeout=30) == 0, out.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert "card C-77 read" in text
    assert "outputs.mock is true" in text  # off-Pi: said, not hidden


async def test_without_a_technician_the_reader_is_only_opened(
    provision: ProvisionFn, tmp_path: Path
) -> None:
    fifo = tmp_path / "badge.fifo"
    os.mkfifo(fifo)
    p = provision(template=f"badge:\n  type: file\n  port: {fifo}\n  mode: in\n")
    results = await run_selftest(load_config(p.config), credentials_dir=p.credentials)
    by_name = {r.name: r for r in results}
    assert by_name["badge reader"].status is Status.WARN
    assert "no tap test without a technician" in by_name["badge reader"].reason
    assert by_name["outputs"].status is Status.WARN
    assert by_name["outputs"].details["read_back"][0]["red"] is True
    missing = tmp_path / "nothing-here"
    p2 = provision(template=f"badge:\n  type: serial\n  port: {missing}\n")
    results = await run_selftest(load_config(p2.config), credentials_dir=p2.credentials)
    reader = next(r for r in results if r.name == "badge reader")
    assert reader.status is Status.FAIL and "cannot open the reader" in reader.reason
