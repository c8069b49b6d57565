"""check-config suggests the key a technician wrote by another name (issue 13 #21): a badge
reader's device or file is ``port``, also for ``type: file``; ``path`` is not spelt like it, so
difflib alone found nothing and the line said only "unknown key"."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.exitcodes import ExitCode

CONFIG = """\
device:
  device_id: gw-01
zone:
  site: plant1
  zone_id: z1
  work_kinds: [GCZY]
badge:
  type: file
  path: /run/zonegate/badge.fifo
"""


def test_badge_path_is_said_to_be_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    assert main(["check-config", "-c", str(cfg)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{cfg}:9: badge.path: 未知的键；是否应为 'port'？" in err
    assert main(["check-config", "-c", str(cfg), "--lang", "en"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert f"{cfg}:9: badge.path: unknown key; did you mean 'port'?" in err
    # The fix it names works.
    cfg.write_text(CONFIG.replace("  path:", "  port:"), encoding="utf-8")
    assert main(["check-config", "-c", str(cfg)]) == ExitCode.OK
