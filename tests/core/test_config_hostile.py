"""Hostile or unusual YAML: every case is a file:line error with exit 78, never a traceback
(issue 16.7, 12.9, 13.4), and a fuzz test holds that for mutated files."""

from __future__ import annotations

import codecs
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli import main
from gateway.config import MAX_DEPTH, ConfigError, parse_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
device:
  device_id: gw-01
zone:
  site: plant1
  zone_id: z1
  work_kinds: [DHZY]
"""


def _laughs(levels: int = 9) -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[str | bytes, int | None, str]] = {
    # name: (file content, expected line or None, words the message must hold)
    "recursive anchor": (GOOD + "daemon: &d\n  x: *d\n", 7, "recursive anchor"),
    "recursive sequence": (GOOD + "x: &a [1, *a]\n", 7, "recursive anchor"),
    "complex key": (GOOD + "? [a, b]\n: 1\n", 7, "plain text"),
    "merge into a bad key": (GOOD + "access:\n  <<: {lockout_treshold: 3}\n", 8, "did you mean"),
    "merge of a scalar": (GOOD + "access:\n  <<: 3\n", 8, "merge key"),
    "deep nesting": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested deeper"),
    "deep mapping": (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  v: 1\n",
        MAX_DEPTH + 1,
        "nested deeper",
    ),
    "huge integer": (GOOD + "daemon:\n  expiry_check_s: " + "9" * 5000 + "\n", 8, "digits"),
    "billion laughs": (_laughs(), None, "aliases"),
    "nonexistent timezone": (
        GOOD.replace("gw-01", "gw-01\n  timezone: Asia/Atlantis"),
        3,
        "unknown timezone 'Asia/Atlantis'",
    ),
    "invalid utf-8": (GOOD.encode() + b"  name: \xff\xfe\n", 7, "not UTF-8"),
    "utf-16 bom": (codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"), 1, "UTF-16"),
    "gbk": (
        GOOD.encode() + "  name: 一号动火区\n".encode("gbk"),
        7,
        "GBK",
    ),
    "nul byte": (GOOD + "x: \x00\n", 7, "not valid YAML"),
    "integer key": (GOOD + "1: 2\n", 7, "must be text"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_a_file_line_error_with_exit_78(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, line, words = HOSTILE[name]
    path = tmp_path / "gw.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    # English, as the words below are (the zh-CN default is tested in test_config_language.py)
    assert main(["check-config", "-c", str(path), "--lang", "en"]) == 78
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    where = f"{path}:{line}:" if line is not None else f"{path}"
    assert first.startswith(where), first
    assert words in first, first


def test_a_merge_key_is_applied_and_written_keys_win() -> None:
    cfg = parse_config(
        GOOD + "access:\n  <<: {lockout_threshold: 5, lockout_window_s: 60}\n"
        "  lockout_threshold: 4\n",
        "gw.yaml",
    )
    assert cfg.access.lockout_threshold == 4 and cfg.access.lockout_window_s == 60


def test_misspelt_nested_key_gets_did_you_mean_once_and_no_union_tag(tmp_path: Path) -> None:
    text = GOOD + "  geofence:\n    type: circle\n    center: {lat: 31.2, lon: 121.5}\n"
    text += "    raduis_m: 20\n"
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "gw.yaml")
    assert [str(i) for i in exc.value.issues] == [
        "gw.yaml:10: zone.geofence.raduis_m: unknown key; did you mean 'radius_m'?"
    ]


def test_fence_without_its_type_says_which_key_is_missing() -> None:
    text = GOOD + "  geofence:\n    center: {lat: 31.2, lon: 121.5}\n    radius_m: 20\n"
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "gw.yaml")
    (issue,) = exc.value.issues
    assert issue.line == 7 and issue.path == "zone.geofence" and "'type'" in issue.message
    assert "circle" not in issue.path


def test_check_config_takes_dash_c_and_the_positional_form(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["check-config", "-c", str(good)]) == 0
    assert main(["check-config", "--config", str(good)]) == 0
    assert main(["check-config", str(good)]) == 0
    other = tmp_path / "other.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["check-config", str(other), "-c", str(good)])
    assert exc.value.code == 2  # usage: two different files


def test_gbk_config_through_the_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_bytes(GOOD.encode() + "  name: 一号动火区\n".encode("gbk"))
    for argv in (["check-config", "-c", str(path)], ["run", "-c", str(path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *argv],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 78, proc.stderr
        # zh-CN by default (no --lang, no readable device.language): "不是 UTF-8 编码"
        assert f"{path}:7: 不是 UTF-8" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------- fuzzing

_SNIPPETS = [
    "&a",
    "*a",
    "<<: ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "!!python/object:os.system ",
    "!!binary ",
    "9" * 60,
    "\t",
    "\x00",
    "\ufeff",
    "'",
    '"',
    "#",
    "|\n",
    ">\n",
    "~",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\n  ",
    "timezone: Nowhere/X\n",
    "\u4e00\u533a",
    "\\",
    "&b [*a, *a]",
]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    text = draw(
        st.sampled_from(
            [GOOD, GOOD + _laughs(3), (REPO / "config" / "gateway.example.yaml").read_text()]
        )
    )
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "dup"]))
        if op == "insert":
            piece = draw(st.sampled_from(_SNIPPETS) | st.text(max_size=8))
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + text[at : at + 40] * draw(st.integers(2, 50)) + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "gbk", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


@settings(
    max_examples=300,
    deadline=timedelta(seconds=10),  # a hang detector (billion laughs spun > 30 s), not a benchmark
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=_mutated() | st.binary(max_size=400))
def test_check_config_on_mutated_yaml_exits_0_or_78_never_raises(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "gw.yaml"
    path.write_bytes(raw)
    code = main(["check-config", "-c", str(path)])
    out = capsys.readouterr()
    assert code in (0, 78), out
    assert "Traceback" not in out.err
    if code == 78:
        assert out.err.startswith(str(path)), out.err
