"""``zonegate enroll WORKER_ID (--photos FILES... | --camera)``: the technician's face enrolment.

The judging, outlier and same-face rules live in ``edge.identity.enrolment`` (re-exported here
for the demo and tools); this module is the command line. Only the 128-d encodings are stored,
encrypted with the device key. No image is kept. Separate written consent (PIPL Art. 29) must be
on file before enrolling; a badge + PIN entry stays available for those who decline.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli_options import add_config_arg
from gateway.exitcodes import ExitCode

if TYPE_CHECKING:
    # Kept out of import time: every ``zonegate`` command builds its parser from this module.
    from edge.identity.config import IdentityConfig
    from edge.identity.enrolment import ImageVerdict
    from firmware_adapters.camera import Frame


def __getattr__(name: str) -> Any:
    """The enrolment functions, imported (with numpy and dlib) only when used."""
    if name in {"Enrolment", "ImageVerdict", "assess", "enrol", "enrol_photos"}:
        from edge.identity import enrolment

        return getattr(enrolment, name)
    raise AttributeError(name)


# ---- what a verdict says to the technician

# Each rejection in the words of a photo being judged (edge.reasons' texts speak to a worker at
# the terminal camera: "look at the camera").
VERDICT_ZH: dict[str, str] = {
    "FACE_NOT_FOUND": "照片中没有找到人脸",
    "MULTIPLE_FACES": "照片中不止一个人",
    "FACE_QUALITY": "人脸质量不合格",
    "FACE_MISMATCH": "与其他照片不像同一个人",
    "IMAGE_UNREADABLE": "照片无法读取",
    "IMAGE_TOO_LARGE": "照片太大",
}
# pipeline.quality_problem's gate codes.
QUALITY_ZH: dict[str, str] = {
    "too_small": "人脸太小",
    "cut_off": "人脸有一部分在画面外",
    "too_dark": "太暗",
    "too_bright": "太亮",
    "clipped": "过曝或过暗的部分太多",
    "blurred": "模糊",
}


def verdict_text(verdict: ImageVerdict, zh: bool) -> str:
    """Why an image was rejected: ``FACE_QUALITY 人脸质量不合格（太暗）`` or the English
    ``FACE_QUALITY too_dark``; empty for a kept image."""
    if verdict.reason is None:
        return ""
    code = verdict.reason.value
    if not zh:
        return " ".join(x for x in (code, verdict.detail or "") if x)
    detail = verdict.detail_zh
    if verdict.reason.value == "FACE_QUALITY" and detail is not None:
        detail = QUALITY_ZH.get(detail, detail)
    said = f"{code} {VERDICT_ZH.get(code, '')}".strip()
    return f"{said}（{detail}）" if detail else said


# Rejections of a photo that was judged: when it was judged reduced from a huge declared size,
# the size is the likelier reason (issue 13 #23: a 200 MP header said only FACE_NOT_FOUND).
_JUDGED_REDUCED = ("FACE_NOT_FOUND", "FACE_QUALITY")


def _declared_note(path: Path, zh: bool) -> str:
    """``；照片太大：…`` when ``path`` declares more pixels than a photo is decoded at in full
    (``PHOTO_MAX_DECODE_PIXELS``), else empty."""
    from firmware_adapters.camera.files import PHOTO_MAX_DECODE_PIXELS, declared_size

    size = declared_size(path)
    if size is None or size[0] * size[1] <= PHOTO_MAX_DECODE_PIXELS:
        return ""
    w, h = size
    mp = w * h / 1e6
    if zh:
        return (
            f"；照片太大：文件声明 {w} x {h} 像素（{mp:.0f} 百万像素），只能缩小后判定；"
            "请用手机的普通分辨率（约 1200 万像素）重新拍摄或导出"
        )
    return (
        f"; image too large: the file declares {w} x {h} px ({mp:.0f} MP), judged only "
        "reduced; take or export it at the phone's normal resolution (about 12 MP)"
    )


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
    add_config_arg(p)
    p.add_argument(
        "--confirm-same-face",
        action="store_true",
        help="store even though the face is already enrolled under another worker "
        "(only after checking they are two people, e.g. twins)",
    )
    from gateway.phrasebook import add_lang_arg

    add_lang_arg(p)
    p.set_defaults(func=cmd_enroll)


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


def _worker_names(registry_path: Path, worker_ids: list[str]) -> dict[str, str]:
    """Roster names for a refusal message; empty when the roster cannot be read."""
    from edge.registry import Registry, RegistryError

    try:
        registry = Registry(registry_path)
    except (RegistryError, OSError):
        return {}
    try:
        workers = (registry.worker(w) for w in worker_ids)
        return {w.worker_id: w.name for w in workers if w is not None}
    finally:
        registry.close()


def cmd_enroll(args: argparse.Namespace) -> int:
    """Run the enrolment; exit 0 stored, 1 nothing stored (not enough good images, or the face
    is already enrolled under another worker without ``--confirm-same-face``), 66 none of the
    ``--photos`` can be read, others as ``gateway.exitcodes``."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
    from rich.table import Table

    from edge.identity.enrolment import (
        SameFaceError,
        enrol,
        photo_frames,
        store_enrolment,
    )
    from edge.identity.pipeline import FacePipeline, ModelsUnavailable
    from edge.identity.service import open_store
    from edge.identity.store import StoreError
    from edge.registry import Registry, RegistryError
    from firmware_adapters.camera import CameraError
    from gateway.config import ConfigError, load_config

    console = Console(stderr=False)
    from gateway.phrasebook import pick_lang

    zh = pick_lang(getattr(args, "lang", None), args.config).value != "en"

    def say(chinese: str, english: str) -> str:
        return chinese if zh else english

    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        for line in err.lines("zh-CN" if zh else "en"):
            console.print(line, style="red", markup=False)
        return ExitCode.CONFIG
    identity = cfg.identity
    if args.photos:
        # One unreadable photo among good ones is judged and listed like any rejected photo;
        # none readable at all is a command line naming no input: exit 66 (README), said once.
        missing = [p for p in args.photos if not (p.is_dir() or os.access(p, os.R_OK))]
        if len(missing) == len(args.photos):
            unread = ", ".join(str(p) for p in missing)
            console.print(
                "[red]"
                + say(
                    f"找不到或无法读取任何照片：{unread}；请检查路径（至少需要 "
                    f"{identity.enrol_min_images} 张合格的照片）",
                    f"none of the photos can be read: {unread}; check the paths (at least "
                    f"{identity.enrol_min_images} good photos are needed)",
                )
                + "[/red]",
                markup=True,
                highlight=False,
            )
            return ExitCode.NO_INPUT
    from gateway.daemon import daemon_running

    if daemon_running(cfg.storage.state_dir):
        console.print(
            "[red]"
            + say(
                "zonegate 正在运行：请先停止（sudo systemctl stop zonegate）再采集人脸，"
                "否则守护进程看不到新的人脸数据",
                "the zonegate daemon is running: stop it (systemctl stop zonegate) "
                "before enrolling, or the daemon would not see the new encodings",
            )
            + "[/red]"
        )
        return ExitCode.BUSY
    try:
        registry = Registry(cfg.registry_path)
        try:
            on_roster = registry.worker(args.worker_id) is not None
        finally:
            registry.close()
    except (RegistryError, OSError) as err:
        console.print(f"[red]{say('无法读取人员名单', 'cannot read the roster')}: {err}[/red]")
        return ExitCode.STORE
    if not on_roster:
        console.print(
            "[red]"
            + say(
                f"{args.worker_id} 不在本区域的人员名单中：请先导入名单（zonegate import-roster）",
                f"{args.worker_id} is not on this zone's roster; sync it first",
            )
            + "[/red]"
        )
        return ExitCode.DATA
    try:
        from gateway.credentials import identity_with_key_found

        state_dir = cfg.storage.state_dir
        store = open_store(identity_with_key_found(identity, state_dir), state_dir)
    except (StoreError, OSError) as err:
        console.print(f"[red]{say('人脸数据库', 'face store')}: {err}[/red]")
        return ExitCode.STORE
    frames = _camera_frames(identity, args.shots) if args.camera else photo_frames(args.photos)
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
            task = progress.add_task(say("加载人脸模型", "loading face models"), total=total)
            try:
                pipeline.load()
            except ModelsUnavailable as err:
                console.print(f"[red]{err}[/red]")
                return ExitCode.UNAVAILABLE
            progress.update(task, description=say("采集", "enrolling") + f" {args.worker_id}")

            def advance(verdict: ImageVerdict) -> None:
                progress.update(
                    task,
                    advance=1,
                    description=say("已判定", "judged") + f" {Path(verdict.source).name}",
                )

            try:
                result = enrol(pipeline, frames, advance)
            except (CameraError, ModelsUnavailable) as err:
                console.print(f"[red]{err}[/red]")
                return ExitCode.UNAVAILABLE
        table = Table(*(("照片", "结果", "原因") if zh else ("image", "result", "why")))
        for v in result.verdicts:
            why = verdict_text(v, zh)
            if args.photos and v.reason is not None and v.reason.value in _JUDGED_REDUCED:
                why += _declared_note(Path(v.source), zh)
            table.add_row(
                Path(v.source).name,
                f"[green]{say('采用', 'kept')}[/green]"
                if v.ok
                else f"[red]{say('不合格', 'rejected')}[/red]",
                why,
            )
        console.print(table)
        kept = result.encodings
        if len(kept) < identity.enrol_min_images:
            console.print(
                "[red]"
                + say(
                    f"合格照片只有 {len(kept)} 张，至少需要 {identity.enrol_min_images} 张；"
                    "未保存任何数据",
                    f"only {len(kept)} good image(s), {identity.enrol_min_images} needed; "
                    "nothing stored",
                )
                + "[/red]"
            )
            return ExitCode.FAILED
        try:
            same = store_enrolment(
                pipeline, store, args.worker_id, result, confirm_same_face=args.confirm_same_face
            )
        except SameFaceError as err:
            names = _worker_names(cfg.registry_path, [o.worker_id for o in err.others])
            for other in err.others:
                who = f"{other.worker_id} {names.get(other.worker_id, '')}".strip()
                console.print(
                    "[red]FACE_ENROLLED_ELSEWHERE: "
                    + say(
                        f"这张脸已经登记为 {who}（距离 {other.distance:.2f}）；未保存任何数据",
                        f"this face is already enrolled as {who} "
                        f"(distance {other.distance:.2f}); nothing stored",
                    )
                    + "[/red]"
                )
            console.print(
                "[red]"
                + say(
                    "终端无法区分这两份记录。如果确实是两个人（如双胞胎），"
                    "请加 --confirm-same-face 再运行",
                    "the terminal could not tell these records apart. If they really are two "
                    "people (twins), run again with --confirm-same-face",
                )
                + "[/red]"
            )
            return ExitCode.FAILED
        except (StoreError, OSError) as err:
            console.print(f"[red]{say('人脸数据库', 'face store')}: {err}[/red]")
            return ExitCode.STORE
        for other in same:
            console.print(
                "[yellow]"
                + say(
                    f"已保存，尽管这张脸与 {other.worker_id} 的距离只有 {other.distance:.2f}"
                    "（已用 --confirm-same-face 确认）",
                    f"stored although the face is within {other.distance:.2f} of "
                    f"{other.worker_id} (confirmed with --confirm-same-face)",
                )
                + "[/yellow]"
            )
        console.print(
            "[green]"
            + say(
                f"{args.worker_id}：已加密保存 {len(kept)} 个人脸特征到 {store.path}；"
                "不保留任何照片",
                f"{args.worker_id}: {len(kept)} encoding(s) stored encrypted in {store.path}; "
                "no image kept",
            )
            + "[/green]"
        )
        return 0
    finally:
        pipeline.close()  # stops the encoder child process
