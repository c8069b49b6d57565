"""One exception root per layer (issue 14 item 4): a supervisor catches what its layer knows."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cloud_sync
import edge
import firmware_adapters
import gateway
from cloud_sync.errors import SyncError
from edge.errors import EdgeError
from firmware_adapters.errors import DeviceError
from gateway.errors import GatewayError

# Errors that are also something else on purpose: a ValueError a parser raises, a sim's own,
# the bilingual ValueError validators raise (pydantic turns only a ValueError into a config error;
# it is no device's failure) and the two texts it shares with the bilingual warnings.
EXEMPT = {"BadLine", "GpsFakeError", "_Bounded", "ConfigIssue", "BilingualValueError", "Bilingual"}
# Modules that need hardware or the face stack to import here.
SKIP_MODULES = {"firmware_adapters.camera.picamera"}


@pytest.mark.parametrize(
    ("package", "root"),
    [
        (firmware_adapters, DeviceError),
        (edge, EdgeError),
        (cloud_sync, SyncError),
        (gateway, GatewayError),
    ],
)
def test_every_error_a_layer_defines_derives_from_its_root(package: object, root: type) -> None:
    strays = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        if info.name in SKIP_MODULES or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or name in EXEMPT:
                continue
            if issubclass(cls, Warning):
                continue  # warnings are a channel of their own, not errors
            if issubclass(cls, Exception) and not issubclass(cls, root):
                strays.append(f"{module.__name__}.{name}")
    assert strays == [], f"errors outside {root.__name__}: {strays}"
