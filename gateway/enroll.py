"""``zonegate enroll WORKER_ID (--photos FILES... | --camera)``: the technician's face enrolment.

Several images are judged one by one (one face, sharp, well exposed, not cut off); poor ones are
rejected with the reason. The good ones are encoded with jitter (slower, steadier templates), an
image that disagrees with the others is dropped, and only the 128-d encodings are stored,
encrypted with the device key. No image is kept. Separate written consent (PIPL Art. 29) must be
on file before enrolling; a badge + PIN entry stays available for those who decline.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.reasons import ReasonCode

if TYPE_CHECKING:
    # Kept out of import time: every ``zonegate`` command builds its parser from this module.
    from edge.identity.config import IdentityConfig
    from edge.identity.pipeline import Encoding, FacePipeline
    from edge.identity.store import EncodingStore
    from firmware_adapters.camera import Frame

DEFAULT_CONFIG = Path("/etc/zonegate/gateway.yaml")


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """Why one enrolment image was kept or rejected."""

    source: str
    reason: ReasonCode | None = None
    detail: str | None = None
    encoding: Encoding | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None and self.encoding is not None


@dataclass(frozen=True, slots=True)
class Enrolment:
    verdicts: tuple[ImageVerdict, ...]

    @property
    def encodings(self) -> list[Encoding]:
        return [v.encoding for v in self.verdicts if v.ok and v.encoding is not None]


def assess(pipeline: FacePipeline, frame: Frame, source: str) -> ImageVerdict:
    """Judge and encode one enrolment image (blocking). Two faces are always rejected here,
    whatever the badge-in policy: a template must be unambiguous. A photo is not framed like
    the terminal camera: any face from a tenth of its width (or ``min_face_px``) up is found."""
    smallest = max(float(pipeline.config.quality.min_face_px), 0.1 * frame.width)
    boxes = pipeline.detect(frame, smallest)
    if not boxes:
        return ImageVerdict(source, ReasonCode.FACE_NOT_FOUND)
    if len(boxes) > 1:
        return ImageVerdict(source, ReasonCode.MULTIPLE_FACES, f"{len(boxes)} faces")
    problem = pipeline.quality_problem(frame, boxes[0])
    if problem is not None:
        return ImageVerdict(source, ReasonCode.FACE_QUALITY, problem)
    encoding = pipeline.encode(frame, boxes[0], pipeline.config.enrol_jitters)
    return ImageVerdict(source, encoding=encoding)


def enrol(
    pipeline: FacePipeline,
    frames: Iterable[tuple[str, Frame | Exception]],
    on_verdict: Callable[[ImageVerdict], None] = lambda _: None,
) -> Enrolment:
    """Judge every image, then drop the ones that disagree with the rest (blocking)."""
    verdicts: list[ImageVerdict] = []
    for source, frame in frames:
        if isinstance(frame, Exception):
            verdict = ImageVerdict(source, ReasonCode.FACE_QUALITY, f"unreadable: {frame}")
        else:
            verdict = assess(pipeline, frame, source)
        verdicts.append(verdict)
        on_verdict(verdict)
    return Enrolment(tuple(_drop_outliers(verdicts, pipeline.config.tolerance)))


def _drop_outliers(verdicts: list[ImageVerdict], tolerance: float) -> list[ImageVerdict]:
    """Keep the good images within ``tolerance`` of their medoid (the image closest, by median
    distance, to all the others): one stray photo of someone else cannot drag the template."""
    import numpy as np

    good = [v for v in verdicts if v.ok and v.encoding is not None]
    if len(good) < 2:
        return verdicts
    encodings = np.vstack([v.encoding for v in good if v.encoding is not None])
    distances = np.linalg.norm(encodings[:, None, :] - encodings[None, :, :], axis=2)
    medoid = int(np.argmin([np.median(np.delete(row, k)) for k, row in enumerate(distances)]))
    far = {id(v): float(distances[medoid, k]) for k, v in enumerate(good)}
    out = []
    for v in verdicts:
        distance = far.get(id(v), 0.0)
        if distance > tolerance:
            detail = f"differs from the other images ({distance:.2f})"
            v = ImageVerdict(v.source, ReasonCode.FACE_MISMATCH, detail)
        out.append(v)
    return out


def enrol_photos(
    pipeline: FacePipeline, store: EncodingStore, worker_id: str, photos: Sequence[Path]
) -> Enrolment:
    """Enrol ``worker_id`` from photo files into ``store`` (blocking; the demo's shortcut).
    Raises ``ValueError`` when fewer than ``enrol_min_images`` images are good."""
    result = enrol(pipeline, _photo_frames(photos))
    kept = result.encodings
    if len(kept) < pipeline.config.enrol_min_images:
        reasons = ", ".join(f"{v.source}: {v.reason} {v.detail or ''}" for v in result.verdicts)
        raise ValueError(f"{worker_id}: not enough good images ({reasons})")
    store.put(worker_id, kept, images=len(kept))
    return result


# ---- command line


def register(subparsers: Any) -> None:
    """Add ``enroll`` to the ``zonegate`` subcommands."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "enroll", help="enrol a worker's face (stores encrypted encodings only)"
    )
    p.add_argument("worker_id", help="worker id as on the roster")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--photos", nargs="+", type=Path, metavar="FILE", help="face photos")
    source.add_argument("--camera", action="store_true", help="take shots with the terminal camera")
    p.add_argument("--shots", type=int, default=5, help="camera shots to take (default 5)")
    p.add_argument("--config", "-c", type=Path, default=DEFAULT_CONFIG, help="gateway YAML")
    p.set_defaults(func=cmd_enroll)


def _photo_frames(paths: Sequence[Path]) -> Iterable[tuple[str, Frame | Exception]]:
    from firmware_adapters.camera import CameraError, Frame
    from firmware_adapters.camera.files import load_rgb

    for seq, path in enumerate(paths, 1):
        try:
            yield str(path), Frame(rgb=load_rgb(path), seq=seq, mono_ts=time.monotonic())
        except CameraError as err:
            yield str(path), err


def _camera_frames(config: IdentityConfig, shots: int) -> Iterable[tuple[str, Frame | Exception]]:
    from firmware_adapters.camera import CameraError
    from firmware_adapters.camera.config import build_camera

    camera = build_camera(config.camera)
    camera.open()
    try:
        for shot in range(1, shots + 1):
            time.sleep(0.5)  # let the worker move a little between shots: varied templates
            try:
                yield f"shot {shot}", camera.read()
            except CameraError as err:
                yield f"shot {shot}", err
    finally:
        camera.close()


def cmd_enroll(args: argparse.Namespace) -> int:
    """Run the enrolment; exit 0 stored, 1 not enough good images, 2 setup error."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
    from rich.table import Table

    from edge.identity.pipeline import FacePipeline, ModelsUnavailable
    from edge.identity.service import open_store
    from edge.identity.store import StoreError
    from edge.registry import Registry, RegistryError
    from firmware_adapters.camera import CameraError
    from gateway.config import ConfigError, load_config

    console = Console(stderr=False)
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        for issue in err.issues:
            console.print(f"[red]{issue}[/red]")
        return 2
    identity = cfg.identity
    from gateway.daemon import daemon_running

    if daemon_running(cfg.storage.state_dir):
        console.print(
            "[red]the zonegate daemon is running: stop it (systemctl stop zonegate) "
            "before enrolling, or the daemon would not see the new encodings[/red]"
        )
        return 3
    try:
        registry = Registry(cfg.registry_path)
        try:
            on_roster = registry.worker(args.worker_id) is not None
        finally:
            registry.close()
    except (RegistryError, OSError) as err:
        console.print(f"[red]cannot read the roster: {err}[/red]")
        return 2
    if not on_roster:
        console.print(f"[red]{args.worker_id} is not on this zone's roster; sync it first[/red]")
        return 2
    try:
        store = open_store(identity, cfg.storage.state_dir)
    except (StoreError, OSError) as err:
        console.print(f"[red]face store: {err}[/red]")
        return 2
    frames = _camera_frames(identity, args.shots) if args.camera else _photo_frames(args.photos)
    total = args.shots if args.camera else len(args.photos)
    pipeline = FacePipeline(identity)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
        ) as progress:
            task = progress.add_task("loading face models", total=total)
            try:
                pipeline.load()
            except ModelsUnavailable as err:
                console.print(f"[red]{err}[/red]")
                return 2
            progress.update(task, description=f"enrolling {args.worker_id}")

            def advance(verdict: ImageVerdict) -> None:
                progress.update(task, advance=1, description=f"judged {Path(verdict.source).name}")

            try:
                result = enrol(pipeline, frames, advance)
            except (CameraError, ModelsUnavailable) as err:
                console.print(f"[red]{err}[/red]")
                return 2
        table = Table("image", "result", "why")
        for v in result.verdicts:
            why = " ".join(x for x in ((v.reason.value if v.reason else ""), v.detail or "") if x)
            table.add_row(
                Path(v.source).name, "[green]kept[/green]" if v.ok else "[red]rejected[/red]", why
            )
        console.print(table)
        kept = result.encodings
        if len(kept) < identity.enrol_min_images:
            console.print(
                f"[red]only {len(kept)} good image(s), {identity.enrol_min_images} needed; "
                "nothing stored[/red]"
            )
            return 1
        try:
            store.put(args.worker_id, kept, images=len(kept))
        except (StoreError, OSError) as err:
            console.print(f"[red]face store: {err}[/red]")
            return 2
        console.print(
            f"[green]{args.worker_id}: {len(kept)} encoding(s) stored encrypted in {store.path}; "
            "no image kept[/green]"
        )
        return 0
    finally:
        pipeline.close()  # stops the encoder child process
