"""``zonegate gps probe``: a technician's look at what gpsd reports and what the gate makes of it.

Connects to gpsd for a few seconds and runs every TPV through the same gate, jump flags and fence
state machine the daemon uses, then reports fixes seen, valid, rejected by reason, jumps flagged
and whether the terminal stands inside the configured zone (true / false / null when unknown or
no fence is configured). With ``--json`` the last stdout line is one JSON object.

While it watches, one progress line per second goes to stderr (not with ``--json``). When gpsd
never answers, one line says so with the likely cause instead of a log line per reconnect.
Exit codes (gateway/exitcodes.py, the one table): 0 gpsd answered and nothing is wrong;
69 gpsd never answered; 78 bad or missing config; 3 the position is outside the zone's fence;
4 the system clock and GPS time disagree by more than ``gps.clock_bound_s``; 5 a fence is
configured but no valid fix came in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.clock import SystemClock
from edge.geofence import FenceState, GeofencePolicy
from edge.geofence.config import GpsConfig
from edge.models import Fix, Geofence
from firmware_adapters.gps.client import GpsdClient, Sky
from gateway.cli_options import DEFAULT_CONFIG, add_config_arg
from gateway.exitcodes import ExitCode

# Names for the codes of the one table (gateway/exitcodes.py) this command answers with.
EXIT_OK = ExitCode.OK
EXIT_NO_GPSD = ExitCode.UNAVAILABLE  # 69, as for every peer that is not there (was 1)
EXIT_CONFIG = ExitCode.CONFIG  # 78, as for every config error
EXIT_OUTSIDE = ExitCode.OUTSIDE_FENCE
EXIT_CLOCK = ExitCode.CLOCK_OFF
EXIT_NO_FIX = ExitCode.NO_FIX

WORDS: dict[str, tuple[str, str]] = {
    "progress": (
        "[{t:.0f}/{total:.0f} 秒] gpsd {conn}，定位 {fixes} 个，有效 {valid} 个",
        "[{t:.0f}/{total:.0f} s] gpsd {conn}, fixes {fixes}, valid {valid}",
    ),
    "connected": ("已连接", "connected"),
    "waiting": ("未连接", "not connected"),
    "no_gpsd": (
        "连接不上 gpsd（{host}:{port}）：gpsd 没有运行或不在这个端口。"
        "提示：sudo systemctl start gpsd.socket gpsd；查看 /etc/default/gpsd 的 DEVICES= "
        "是否指向 GPS 串口；gpspipe -w 可验证",
        "cannot reach gpsd at {host}:{port}: gpsd is not running or not on this port. "
        "Hint: sudo systemctl start gpsd.socket gpsd; check DEVICES= in /etc/default/gpsd "
        "names the GPS serial port; gpspipe -w shows what it sends",
    ),
    "outside": (
        "位置在区域电子围栏之外：闸机将拒绝入场（POSITION_OUTSIDE）",
        "the position is outside the zone's fence: badge-ins would be denied",
    ),
    "clock": (
        "系统时钟与 GPS 时间相差 {offset:.0f} 秒（允许 {bound:.0f} 秒）：检查 NTP / RTC",
        "system clock and GPS time differ by {offset:.0f} s (bound {bound:.0f} s): check NTP / "
        "the RTC",
    ),
    "no_fix": (
        "配置了电子围栏，但 {seconds:.0f} 秒内没有有效定位：天线要看得到天空",
        "a fence is configured but no valid fix came in {seconds:.0f} s: the antenna needs sky",
    ),
}


# The summary table's rows (issue 13 #27: English under zh-CN). Reason codes stay codes.
TABLE_WORDS: dict[str, tuple[str, str]] = {
    "title": ("gpsd {host}:{port}，{seconds} 秒", "gpsd {host}:{port} for {seconds} s"),
    "connected": ("已连接", "connected"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "reports": ("TPV / SKY 报文", "TPV / SKY reports"),
    "fixes": ("定位（历元）", "fixes (epochs)"),
    "valid": ("有效", "valid"),
    "rejected": ("  被拒绝 {code}", "  rejected {code}"),
    "jumps": ("位置跳变", "jumps flagged"),
    "backwards": ("时间倒退", "time going backwards"),
    "bad_lines": ("无法解析的行", "bad lines"),
    "fence": ("区域电子围栏", "zone fence"),
    "no_fence": ("未配置", "none configured"),
    "vs_fence": ("位置与围栏", "position vs fence"),
    "inside": ("在围栏内", "inside"),
    "outside": ("在围栏外", "OUTSIDE"),
    "unknown": ("未知", "unknown"),
    "position": ("最后有效位置", "last valid position"),
    "satellites": ("使用 / 可见卫星", "satellites used / seen"),
    "clock": ("系统时钟 - GPS 时间", "system clock - GPS time"),
    "seconds": ("{v} 秒", "{v} s"),
}


def _t(key: str, lang: str, **values: Any) -> str:
    zh, en = TABLE_WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def _w(key: str, lang: str, **values: Any) -> str:
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def register(subparsers: Any) -> None:
    """Add ``gps probe`` to the ``zonegate`` command's subparsers."""
    gps = subparsers.add_parser("gps", help="GPS / gpsd tools")
    gps_sub = gps.add_subparsers(dest="gps_command", required=True, metavar="GPS_COMMAND")
    p = gps_sub.add_parser("probe", help="watch gpsd and report fixes, rejections and the fence")
    p.add_argument("--host", help="gpsd host (default: gps.host from the config, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="gpsd port (default: gps.port, else 2947)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to watch (default 10)")
    p.add_argument("--json", action="store_true", help="end with one JSON object on one line")
    p.add_argument(
        "--lang",
        choices=["zh-CN", "en"],
        default=None,
        help="output language (default: device.language of the config, else zh-CN)",
    )
    add_config_arg(
        p,
        parsed_default=None,
        purpose="gateway YAML for the gate settings and the zone fence",
        when=" when it exists",
    )
    p.set_defaults(func=cmd_probe)


def _load(path: Path | None) -> tuple[GpsConfig, Geofence | None, str | None]:
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return GpsConfig(), None, None
        path = DEFAULT_CONFIG
    from gateway.config import load_config  # only when a file is given: keeps the probe light

    cfg = load_config(path)
    return cfg.gps, cfg.zone.geofence, str(path)


async def probe(
    host: str,
    port: int,
    seconds: float,
    config: GpsConfig,
    fence: Geofence | None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Watch gpsd for ``seconds`` and summarise; never raises for gpsd being absent or odd.

    ``progress`` gets ``{"t", "total", "connected", "fixes", "valid"}`` about once a second.
    """
    policy = GeofencePolicy(config, fence, SystemClock())
    client = GpsdClient(
        host,
        port,
        receive_timeout_s=config.receive_timeout_s,
        backoff_initial_s=min(config.reconnect_initial_s, 0.5),
        backoff_max_s=min(config.reconnect_max_s, 2.0),
        # The client would log every failed reconnect; the probe says it once, with the cause.
        log_failures=False,
    )
    suspects: list[dict[str, Any]] = []
    ever_connected = False
    sky: Sky | None = None
    clock_offset: float | None = None
    started = time.monotonic()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)  # a display cadence, not synchronisation
            if progress is not None:
                summary = policy.tracker.summary()
                progress(
                    {
                        "t": time.monotonic() - started,
                        "total": seconds,
                        "connected": ever_connected or client.stats.connects > 0,
                        "fixes": summary["fixes"],
                        "valid": summary["valid"],
                    }
                )

    tick = asyncio.create_task(ticker(), name="gps-probe-progress")
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), contextlib.aclosing(client.reports()) as reports:
                async for report in reports:
                    ever_connected = True
                    if isinstance(report, Sky):
                        sky = report
                        continue
                    out = policy.update(report)
                    suspects.extend(e.payload for e in out.events if e.type == "suspect")
                    if out.accepted and policy.tracker.gps_time_believable:
                        clock_offset = _clock_offset(report)
    finally:
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
    ever_connected = ever_connected or client.stats.connects > 0
    t = policy.tracker
    t.check_stale(time.monotonic())
    pos = policy.position()
    inside = (
        None if fence is None or t.state is FenceState.UNKNOWN else t.state is FenceState.INSIDE
    )
    return {
        "host": host,
        "port": port,
        "seconds": round(time.monotonic() - started, 1),
        "connected": ever_connected,
        "protocol": client.stats.protocol,
        "tpv": client.stats.tpv,
        "sky": client.stats.sky,
        "bad_lines": client.stats.bad_lines,
        **t.summary(),
        "inside": inside,
        "fence": None if fence is None else fence.type,
        "position": None if pos is None else pos.model_dump(),
        "satellites_used": None if sky is None else sky.u_sat,
        "satellites_seen": None if sky is None else sky.n_sat,
        "clock_offset_s": clock_offset,
        "suspects": [s.get("kind") for s in suspects],
    }


def _clock_offset(fix: Fix) -> float | None:
    if fix.time is None:
        return None
    received = time.time() - (time.monotonic() - fix.mono_ts)
    return round(received - fix.time.timestamp(), 3)


def _print_table(r: dict[str, Any], lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    def t(key: str, **values: Any) -> str:
        return _t(key, lang, **values)

    title = t("title", host=r["host"], port=r["port"], seconds=r["seconds"])
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    inside = {
        True: f"[green]{t('inside')}[/]",
        False: f"[red]{t('outside')}[/]",
        None: f"[yellow]{t('unknown')}[/]",
    }
    rows: list[tuple[str, str]] = [
        (t("connected"), t("yes") if r["connected"] else f"[red]{t('no')}[/]"),
        (t("reports"), f"{r['tpv']} / {r['sky']}"),
        (t("fixes"), str(r["fixes"])),
        (t("valid"), str(r["valid"])),
    ]
    rows += [(t("rejected", code=k), str(v)) for k, v in r["rejected"].items()]
    rows += [
        (t("jumps"), str(r["jumps"])),
        (t("backwards"), str(r["time_backwards"])),
        (t("bad_lines"), str(r["bad_lines"])),
        (t("fence"), r["fence"] or t("no_fence")),
        (t("vs_fence"), inside[r["inside"]]),
    ]
    pos = r["position"]
    if pos is not None:
        rows.append((t("position"), f"{pos['lat']:.6f}, {pos['lon']:.6f} ± {pos['error_m']} m"))
    if r["satellites_used"] is not None:
        rows.append((t("satellites"), f"{r['satellites_used']} / {r['satellites_seen']}"))
    if r["clock_offset_s"] is not None:
        rows.append((t("clock"), t("seconds", v=r["clock_offset_s"])))
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def verdict(result: dict[str, Any], clock_bound_s: float) -> ExitCode:
    """The exit code for a probe's summary (module doc)."""
    if not result["connected"]:
        return EXIT_NO_GPSD
    # Clock before fence: GPS time far from the clock makes every position doubtful (a replay,
    # a spoofer or a week-rollover receiver), so "outside" would send the technician to the
    # fence when the stream itself is wrong (a fresh-user test got exit 3 for a 7.9-year offset).
    offset = result["clock_offset_s"]
    if offset is not None and abs(offset) > clock_bound_s:
        return EXIT_CLOCK
    if result["inside"] is False:
        return EXIT_OUTSIDE
    if result["fence"] is not None and result["inside"] is None:
        return EXIT_NO_FIX
    return EXIT_OK


def cmd_probe(args: argparse.Namespace) -> int:
    """Watch gpsd and report; the exit code says what is wrong (module doc)."""
    from gateway.config import ConfigError
    from gateway.phrasebook import pick_lang

    lang = pick_lang(
        args.lang, args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    )
    try:
        config, fence, source = _load(args.config)
    except ConfigError as err:
        for line in err.lines(lang.value):
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    host = args.host or config.host
    port = args.port or config.port

    def show(p: dict[str, Any]) -> None:
        conn = _w("connected" if p["connected"] else "waiting", lang)
        print(
            _w("progress", lang, conn=conn, **{k: v for k, v in p.items() if k != "connected"}),
            file=sys.stderr,
            flush=True,
        )

    result = asyncio.run(
        probe(host, port, args.seconds, config, fence, progress=None if args.json else show)
    )
    result["config"] = source
    code = verdict(result, config.clock_bound_s)
    result["exit_code"] = code
    if args.json:
        print(json.dumps(result, ensure_ascii=False, sort_keys=False))
        return code
    if code == EXIT_NO_GPSD:
        print(_w("no_gpsd", lang, host=host, port=port), file=sys.stderr)
        return code
    _print_table(result, lang.value)
    if code == EXIT_OUTSIDE:
        print(_w("outside", lang), file=sys.stderr)
    elif code == EXIT_CLOCK:
        print(
            _w("clock", lang, offset=result["clock_offset_s"], bound=config.clock_bound_s),
            file=sys.stderr,
        )
    elif code == EXIT_NO_FIX:
        print(_w("no_fix", lang, seconds=result["seconds"]), file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m gateway.gps_probe probe ...`` before the ``zonegate`` command is installed."""
    parser = argparse.ArgumentParser(prog="zonegate gps")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["gps", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
