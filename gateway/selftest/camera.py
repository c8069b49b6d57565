"""Self-test of identity: the camera gives frames, and the face detector finds a face in one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

DISABLED = Words("CAMERA_DISABLED", "identity.enabled 为 false", "identity.enabled is false")
NO_MODELS = Words(
    "CAMERA_NO_MODELS",
    "人脸模型不可用：{error}",
    "face models unavailable: {error}",
    "安装人脸模型：pip install dlib-bin face_recognition_models；再以 --no-deps 安装 "
    "face_recognition",
    "pip install dlib-bin face_recognition_models; face_recognition --no-deps",
)
FACE_FOUND = Words(
    "CAMERA_OK",
    "{width}x{height} 画面；第 {frame} 帧中找到人脸",
    "{width}x{height} frames; a face found in frame {frame}",
)
CAMERA_ERROR = Words(
    "CAMERA_ERROR",
    "读取 {read} 帧后摄像头出错：{error}",
    "camera error after {read} frame(s): {error}",
    "检查排线/USB 和 identity.camera；zonegate 用户须在 video 组",
    "check the ribbon cable / USB and identity.camera; the zonegate user needs video",
)
NO_PICAMERA2 = Words(
    "CAMERA_NO_PICAMERA2",
    "未安装 picamera2（树莓派摄像头的库）",
    "picamera2 is not installed (the Raspberry Pi camera library)",
    "sudo apt install python3-picamera2；zonegate 的虚拟环境须以 --system-site-packages 创建；"
    "或在 identity.camera 中选用其他摄像头类型",
    "apt install python3-picamera2; the venv needs --system-site-packages; or choose another "
    "identity.camera type",
)
NO_FACE = Words(
    "CAMERA_NO_FACE",
    "读取了 {read} 帧，但没有找到人脸",
    "{read} frame(s) but no face found",
    "在光线良好处站到摄像头前；检查对焦和 identity.min_face_fraction",
    "stand in front of the camera in good light; check focus and identity.min_face_fraction",
)


def check_camera(cfg: GatewayConfig, frames: int) -> CheckResult:
    """Blocking: open the camera, read up to ``frames`` frames until one holds a face.

    Run it in a thread (``asyncio.to_thread``): detection takes a CPU for a while.
    """
    ident = cfg.identity
    if not ident.enabled:
        return DISABLED.result("camera", Status.SKIPPED)
    from edge.identity.pipeline import FacePipeline, ModelsUnavailable
    from firmware_adapters.camera import CameraError
    from firmware_adapters.camera.config import build_camera

    camera = build_camera(ident.camera)
    details: dict[str, Any] = {"camera": ident.camera.type}
    try:
        pipeline = FacePipeline(ident)
        _ = pipeline.models  # detection only: no encoder is started for this check
    except ModelsUnavailable as err:
        return NO_MODELS.result("camera", Status.FAIL, details, error=err)
    read = 0
    try:
        camera.open()
        try:
            for _ in range(frames):
                frame = camera.read()
                read += 1
                if pipeline.detect(frame):
                    details.update(frames=read, size=[frame.width, frame.height])
                    return FACE_FOUND.result(
                        "camera",
                        Status.PASS,
                        details,
                        width=frame.width,
                        height=frame.height,
                        frame=read,
                    )
        finally:
            camera.close()
    except CameraError as err:
        if isinstance(err.__cause__, ImportError):
            return NO_PICAMERA2.result("camera", Status.FAIL, details)
        return CAMERA_ERROR.result("camera", Status.FAIL, details, read=read, error=err)
    details["frames"] = read
    return NO_FACE.result("camera", Status.FAIL, details, read=read)
