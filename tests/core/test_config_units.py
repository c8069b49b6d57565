"""Units as Chinese standards print them, and the choices of a wrong one listed in Chinese.

A fresh-user test wrote ``gas.limits.h2s.unit: mg/m³`` (GBZ 2.1's spelling) and was refused
with an English "or" inside the zh-CN list of choices.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_config
from gateway.exitcodes import ExitCode
from tests.cli_process import zonegate

REPO = Path(__file__).resolve().parents[2]

HEAD = "device: {device_id: zg-t1}\nzone: {site: plant1, zone_id: bay1, work_kinds: [GCZY]}\n"


def test_superscript_and_micro_sign_spellings_are_the_same_units(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        HEAD + "gas:\n  limits:\n"
        "    h2s: {unit: mg/m³, low: 5, high: 10}\n"
        "    co: {unit: PPM, high: 20}\n",
        encoding="utf-8",
    )
    limits = load_config(path).gas.limits
    assert (limits["h2s"].unit, limits["co"].unit) == ("mg/m3", "ppm")


def test_a_wrong_unit_lists_the_choices_with_chinese_separators(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(HEAD + "gas:\n  limits:\n    co: {unit: pmm, high: 20}\n", encoding="utf-8")
    proc = zonegate("check-config", "-c", str(path), "--lang", "zh-CN")
    assert proc.returncode == ExitCode.CONFIG
    assert "gateway.yaml:5: gas.limits.co.unit: 应为以下之一：'ppm'、'ppb'、" in proc.stderr
    assert " or " not in proc.stderr
