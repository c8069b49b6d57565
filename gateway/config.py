"""The gateway's YAML configuration, validated by pydantic with errors a technician can act on.

Every error in a file is reported at once, each as ``file:line: key.path: message``; an unknown
key also gets a "did you mean" from the keys allowed at that place (the ESPHome / Frigate habit).
Defaults live only in the models. Duplicate keys, which PyYAML would silently collapse, are errors.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from cloud_sync.config import MqttConfig
from edge.config import AccessConfig, ClockConfig, DeviceConfig, StorageConfig, TelemetryConfig
from edge.identity.config import IdentityConfig
from edge.models import Zone
from firmware_adapters.badge.config import BadgeConfig
from firmware_adapters.configbase import Section
from firmware_adapters.gas.config import GasConfig
from firmware_adapters.gps.config import GpsConfig
from firmware_adapters.outputs.config import OutputsConfig
from gateway.kiosk.config import KioskConfig


class DaemonConfig(Section):
    expiry_check_s: float = Field(default=5, gt=0, description="how often permits are expired")
    shutdown_timeout_s: float = Field(default=20, gt=0, description="per shutdown stage")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    monitoring_grace_s: float = Field(
        default=180,
        ge=0,
        le=900,
        description="after a start, lost gas monitoring is a wait (MONITORING_RESUMING), not a "
        "suspension, for this long (sensor warm-up, e.g. ZE07 about 3 min); 0 = suspend at once",
    )


class OperatorApiConfig(Section):
    """The local operator API (gateway.operator_api): Unix socket always, loopback TCP if set."""

    enabled: bool = True
    socket: Path | None = Field(
        default=None, description="Unix socket path (default: <storage.state_dir>/operator.sock)"
    )
    tcp_port: int | None = Field(
        default=None, ge=1, le=65535, description="also on 127.0.0.1:PORT (never another address)"
    )


class GatewayConfig(Section):
    """Top level of gateway.yaml."""

    device: DeviceConfig
    zone: Zone
    storage: StorageConfig = StorageConfig()
    clock: ClockConfig = ClockConfig()
    access: AccessConfig = AccessConfig()
    daemon: DaemonConfig = DaemonConfig()
    operator_api: OperatorApiConfig = OperatorApiConfig()
    outputs: OutputsConfig = OutputsConfig()
    badge: BadgeConfig = BadgeConfig()
    gas: GasConfig = GasConfig()
    gps: GpsConfig = GpsConfig()
    identity: IdentityConfig = IdentityConfig()
    mqtt: MqttConfig = MqttConfig()
    kiosk: KioskConfig = KioskConfig()
    telemetry: TelemetryConfig = TelemetryConfig()

    @model_validator(mode="after")
    def _fence_is_enforced(self) -> GatewayConfig:
        # A fence nobody checks reads as "inside": fail at load time instead (invariant 1).
        if self.zone.geofence is not None and not self.gps.enabled:
            raise ValueError(
                "zone.geofence is set but gps.enabled is false: enable GPS or remove the fence"
            )
        return self

    @property
    def registry_path(self) -> Path:
        return self.storage.state_dir / "registry.json"

    @property
    def journal_path(self) -> Path:
        return self.storage.state_dir / "journal.db"


# --------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def _construct(
    node: yaml.Node,
    lines: dict[tuple[Any, ...], int],
    path: tuple[Any, ...],
    issues: list[ConfigIssue],
    file: str,
) -> Any:
    """Build plain data from a composed YAML node, remembering the line of every path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = yaml.safe_load(yaml.serialize(knode))
            if key in out:
                issues.append(
                    ConfigIssue(
                        file, knode.start_mark.line + 1, _dotted((*path, key)), "duplicate key"
                    )
                )
            lines[(*path, key)] = knode.start_mark.line + 1
            out[key] = _construct(vnode, lines, (*path, key), issues, file)
            lines[(*path, key)] = knode.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, lines, (*path, i), issues, file) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _dotted(path: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the mapping at ``loc`` (for "did you mean"), if one is clear."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                continue  # a union tag or an index pydantic put in the location
            current = current.model_fields[part].annotation
        current = _unwrap(current, part)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any, part: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        models = [
            a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        for m in models:  # a discriminated union: pick the member whose tag is ``part``
            field = m.model_fields.get("type")
            if field is not None and field.default == part:
                return m
        return models[0] if len(models) == 1 else tp
    if origin in (list, tuple) and typing.get_args(tp):
        return typing.get_args(tp)[0]
    if origin is dict and typing.get_args(tp):
        return typing.get_args(tp)[1]
    return tp


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    # pydantic locations can hold union tags that are not YAML keys: drop them one at a time.
    candidates = [loc]
    for i in range(len(loc)):
        candidates.append(loc[:i] + loc[i + 1 :])
    for cand in candidates:
        if cand in lines:
            return lines[cand]
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def parse_config(text: str, file: str = "<config>") -> GatewayConfig:
    """Validate YAML text; raise ``ConfigError`` listing every problem with its line."""
    issues: list[ConfigIssue] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError([ConfigIssue(file, line, "", f"not valid YAML: {problem}")]) from err
    if node is None:
        raise ConfigError([ConfigIssue(file, 1, "", "the file is empty")])
    lines: dict[tuple[Any, ...], int] = {}
    data = _construct(node, lines, (), issues, file)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(file, 1, "", "the top level must be a mapping")])
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            loc = tuple(e["loc"])
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = "unknown key"
                owner = _model_at(GatewayConfig, loc[:-1])
                if owner is not None:
                    close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
                    if close:
                        msg += f"; did you mean '{close[0]}'?"
            elif "input" in e and e["type"] != "missing":
                msg += f" (got {e['input']!r})"
            issues.append(ConfigIssue(file, _line_for(lines, loc), _dotted(loc), msg))
        raise ConfigError(sorted(issues, key=lambda i: (i.line or 0, i.path))) from err
    if issues:
        raise ConfigError(issues)
    return cfg


def load_config(path: Path) -> GatewayConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            [ConfigIssue(str(path), None, "", f"cannot read: {err.strerror}")]
        ) from err
    return parse_config(text, str(path))
