"""Camera configuration: one model per camera type, chosen by ``type:``, and the factory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from firmware_adapters.configbase import Section

if TYPE_CHECKING:
    # Only for the annotation: importing the camera modules loads OpenCV and numpy (~32 MB),
    # which a gateway with identity off must not pay for (issue 12.11).
    from firmware_adapters.camera.source import Camera


class Picamera2Config(Section):
    """The Pi's CSI camera through picamera2 (a main RGB stream and a low-resolution YUV one)."""

    type: Literal["picamera2"] = "picamera2"
    camera_num: int = Field(default=0, ge=0, description="CSI camera index")
    size: tuple[int, int] = Field(default=(1280, 720), description="main stream width, height")
    lores_size: tuple[int, int] = Field(
        default=(320, 240), description="low-resolution YUV420 stream used for detection"
    )
    warmup_s: float = Field(default=1.5, ge=0, description="auto-exposure settling time")


class OpenCVCameraConfig(Section):
    """A USB / V4L2 webcam through OpenCV (frames converted from B,G,R to RGB)."""

    type: Literal["opencv"] = "opencv"
    device: int | str = Field(default=0, description="V4L2 index or /dev/videoN path")
    size: tuple[int, int] = Field(default=(1280, 720), description="requested width, height")


class FileCameraConfig(Section):
    """Image files replayed as frames (tests and the demo); see ``camera.files``."""

    type: Literal["files"] = "files"
    paths: tuple[Path, ...] = Field(
        default=(), description="image files or folders replayed in order (tests, demo)"
    )
    size: tuple[int, int] | None = Field(
        default=None, description="letterbox every image into this (width, height); null keeps it"
    )


CameraConfig = Annotated[
    Picamera2Config | OpenCVCameraConfig | FileCameraConfig, Field(discriminator="type")
]


def build_camera(config: Picamera2Config | OpenCVCameraConfig | FileCameraConfig) -> Camera:
    """The camera a config section describes (not yet opened)."""
    if isinstance(config, Picamera2Config):
        from firmware_adapters.camera.picamera import Picamera2Camera

        return Picamera2Camera(
            size=config.size,
            lores_size=config.lores_size,
            warmup_s=config.warmup_s,
            camera_num=config.camera_num,
        )
    if isinstance(config, OpenCVCameraConfig):
        from firmware_adapters.camera.opencv import OpenCVCamera

        width, height = config.size
        return OpenCVCamera(config.device, width=width, height=height)
    from firmware_adapters.camera.files import FileCamera

    return FileCamera(config.paths, size=config.size)
