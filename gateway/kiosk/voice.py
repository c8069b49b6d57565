"""What the terminal says and beeps: Mandarin prompts and the buzzer's tap patterns.

Prompts are generated on the device at start by espeak-ng's Mandarin voice (``cmn``) into WAV
files under ``<state_dir>/voice`` (named by a hash of text, voice, speed and level, so a config
change makes new files and an unchanged one costs nothing), and played by ``aplay`` (ALSA) or
``paplay`` (PulseAudio / PipeWire). No espeak-ng, no player, no sound card: the screen still
shows everything, the reason is kept in the kiosk's health, and the daemon carries on.

A tap chirps the buzzer (one short beep admitted, three denied) so a worker refused under a
green stack light hears it; the gas alarm's steady tone is the stack light's own and always
wins (``StackLight.chirp`` stays silent while it sounds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

from edge.models import Event
from edge.zone import ZoneController
from firmware_adapters.outputs.signals import TapChirp
from gateway.kiosk.config import VoiceConfig
from gateway.kiosk.guidance import SPOKEN

log = logging.getLogger("zonegate.kiosk.voice")

GENERATE_TIMEOUT_S = 30.0
PLAY_TIMEOUT_S = 15.0


class Voice:
    """Mandarin prompts from espeak-ng, played one at a time (a newer prompt cuts the older)."""

    def __init__(self, cfg: VoiceConfig, cache_dir: Path) -> None:
        self.cfg = cfg
        self.cache_dir = cache_dir
        self.files: dict[str, Path] = {}
        self.played = 0
        self.skipped = 0
        self.failed = 0
        self.last_error: str | None = None
        self._playing: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def _name(self, key: str, text: str) -> Path:
        amplitude = self.amplitude
        digest = hashlib.sha256(
            f"{text}|{self.cfg.voice}|{self.cfg.speed_wpm}|{amplitude}".encode()
        ).hexdigest()[:12]
        return self.cache_dir / f"{key}-{digest}.wav"

    @property
    def amplitude(self) -> int:
        """espeak-ng's ``-a`` (0-200, 100 its default) for the configured volume percent."""
        return round(self.cfg.volume * 2)

    def player(self) -> list[str] | None:
        """The command that plays a WAV file, or None when neither player is installed."""
        order = ("aplay", "paplay") if self.cfg.player == "auto" else (self.cfg.player,)
        for name in order:
            path = shutil.which(name)
            if path is not None:
                return [path, "-q"] if name == "aplay" else [path]
        return None

    async def prepare(self) -> None:
        """Make every prompt's WAV file (once; kept across restarts). Never raises."""
        if not self.cfg.enabled:
            self.ready.set()
            return
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            self._error("espeak-ng is not installed: no spoken prompts (apt install espeak-ng)")
            self.ready.set()
            return
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self._error(f"{self.cache_dir}: {err}")
            self.ready.set()
            return
        for key, (zh, _en) in SPOKEN.items():
            path = self._name(key, zh)
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                cmd = [espeak, "-v", self.cfg.voice, "-s", str(self.cfg.speed_wpm)]
                cmd += ["-a", str(self.amplitude), "-w", str(tmp), zh]
                if not await self._run(cmd, GENERATE_TIMEOUT_S):
                    continue
                tmp.replace(path)
            self.files[key] = path
        self.ready.set()

    def say(self, key: str) -> None:
        """Play prompt ``key`` (``guidance.SPOKEN``) in the background; cuts one still playing."""
        path = self.files.get(key)
        if not self.cfg.enabled or self.cfg.mute or path is None:
            self.skipped += 1
            return
        player = self.player()
        if player is None:
            self.skipped += 1
            self._error("no audio player (aplay / paplay) installed")
            return
        if self._playing is not None and not self._playing.done():
            self._playing.cancel()
        self._playing = asyncio.get_running_loop().create_task(
            self._play([*player, str(path)]), name=f"voice-{key}"
        )

    async def _play(self, cmd: list[str]) -> None:
        if await self._run(cmd, PLAY_TIMEOUT_S):
            self.played += 1

    async def _run(self, cmd: list[str], timeout_s: float) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as err:
            self._error(f"{cmd[0]}: {err}")
            return False
        try:
            async with asyncio.timeout(timeout_s):
                _, err_out = await proc.communicate()
        except BaseException:  # timeout, or cut by a newer prompt / shutdown
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            # The usual one on a Pi without speakers: aplay cannot open the audio device.
            reason = err_out.decode(errors="replace").strip().splitlines()
            self._error(f"{Path(cmd[0]).name} exit {proc.returncode}: {reason[-1:] or ''}")
            return False
        return True

    def _error(self, message: str) -> None:
        self.failed += 1
        if message != self.last_error:
            log.warning("voice: %s", message)  # once per distinct problem, not per tap
        self.last_error = message

    def health(self) -> dict[str, Any]:
        """The voice's health entry: enabled, mute, the prompts found, counts of prompts played /
        skipped / failed and the last error."""
        return {
            "enabled": self.cfg.enabled,
            "mute": self.cfg.mute,
            "prompts": sorted(self.files),
            "played": self.played,
            "skipped": self.skipped,
            "failed": self.failed,
            "last_error": self.last_error,
        }

    async def drain(self) -> None:
        """Wait for the prompt now playing (if any) to end."""
        if self._playing is not None:
            await asyncio.gather(self._playing, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop a prompt that is still playing (at shutdown)."""
        if self._playing is not None:
            self._playing.cancel()
            await asyncio.gather(self._playing, return_exceptions=True)


class TapSignals:
    """At each decision: the prompt and the buzzer's tap pattern; at a gas alarm: the prompt."""

    def __init__(self, controller: ZoneController, voice: Voice, *, enabled: bool) -> None:
        self.controller = controller
        self.voice = voice
        self.enabled = enabled
        self.chirps = 0
        self.chirp_errors = 0

    def on_decision(self, view: dict[str, Any]) -> None:
        """A decision's view (``kiosk.feed.decision_view``): the admit / exit / deny prompt
        and, when enabled, the buzzer's tap pattern (a buzzer fault is counted, never raised)."""
        if view["allowed"]:
            self.voice.say("exit" if view["action"] == "badge_out" else "admit")
        else:
            self.voice.say("deny")
        annunciator = self.controller.annunciator
        if self.enabled and isinstance(annunciator, TapChirp):
            try:
                annunciator.chirp(allowed=bool(view["allowed"]))
                self.chirps += 1
            except Exception:  # a buzzer fault must not stop the screen
                self.chirp_errors += 1
                log.exception("buzzer chirp failed")

    def on_alarm(self, event: Event) -> None:
        """A gas alarm event: the alarm prompt."""
        self.voice.say("alarm")

    def health(self) -> dict[str, Any]:
        """The tap signals' health entry: chirps sent and failed."""
        return {"chirps": self.chirps, "chirp_errors": self.chirp_errors}
