"""The one Protocol every camera implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from firmware_adapters.camera.frames import Frame  # OpenCV + numpy: load only with a camera


class Camera(Protocol):
    """A source of frames. All methods block; run them off the event loop."""

    name: str

    def open(self) -> None:
        """Acquire the device. Raises ``CameraError`` when it cannot."""
        ...

    def read(self) -> Frame:
        """Return the next frame. Raises ``CameraError`` on a device failure."""
        ...

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...
