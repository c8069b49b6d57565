"""``zonegate demo``: a whole zone on simulated inputs, as a readable timeline.

The demo runs the real gateway (stores, controller, services) from a generated config in a
temporary state directory, and drives it ONLY through the paths a deployed gateway has: signed
central commands over a private mosquitto, badge lines into the terminal's reader (a FIFO, with
the worker's photo in front of the file camera), and the gas simulators' values.

``harness`` is the stage (processes, plumbing, the public paths, Ctrl-C); ``scenario`` is the
story told on it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from edge.reasons import Lang
from gateway.demo.harness import (
    LAT,
    LON,
    SITE,
    ZONE,
    DemoUnavailable,
    demo_config,
    demo_logging,
    demo_parts,
    run_interruptible,
    running_stage,
    state_dir,
)
from gateway.demo.scenario import Timeline, demo_workers, scenario
from gateway.exitcodes import ExitCode

__all__ = ["LAT", "LON", "SITE", "ZONE", "demo_config", "demo_parts", "demo_workers", "run_demo"]

_STOPPING = ("正在停止演示（Ctrl-C）……", "stopping the demo (Ctrl-C) ...")
_STILL_STOPPING = ("仍在停止，请稍候", "still stopping, please wait")
_INTERRUPTED = ("演示已中断", "demo interrupted")
_FINISHED = ("演示结束", "demo finished")


def run_demo(lang: str = Lang.ZH.value, keep: bool = False, capture: Path | None = None) -> int:
    """Run the scenario; with ``capture``, every MQTT message central received is appended to
    that file as JSON lines (what tests validate against docs/mqtt/schemas).

    Returns 0 when the story ran to its end, 1 when a part it needs is missing (mosquitto),
    130 (``ExitCode.INTERRUPTED``) after Ctrl-C / SIGTERM, once everything has stopped.
    """
    console = Console(highlight=False, soft_wrap=True)
    language = Lang(lang)

    def say(words: tuple[str, str], style: str) -> None:
        console.print(f"[{style}]{words[0] if language is Lang.ZH else words[1]}[/]")

    with state_dir(keep) as state, demo_logging(state):
        tl = Timeline(console, language)
        console.print(f"[bold]zonegate demo[/] — {SITE}/{ZONE}, state in {state}")

        async def story() -> None:
            def central_line(line: str) -> None:
                console.print(f"           [blue]⇢ {escape(line)}[/]")

            async with running_stage(state, central_line, capture) as stage:
                await scenario(stage, tl)

        async def main() -> bool:
            return await run_interruptible(
                story,
                on_stop=lambda: say(_STOPPING, "yellow"),
                on_again=lambda: say(_STILL_STOPPING, "yellow"),
            )

        try:
            interrupted = asyncio.run(main())
        except DemoUnavailable as err:
            console.print(f"[red]{err}[/]")
            return ExitCode.FAILED
    if interrupted:
        say(_INTERRUPTED, "yellow")
        return ExitCode.INTERRUPTED
    console.print()
    say(_FINISHED, "bold green")
    return ExitCode.OK
