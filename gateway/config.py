"""The gateway's YAML configuration, validated by pydantic with errors a technician can act on.

Every error in a file is reported at once, each as ``file:line: key.path: message``; an unknown
key also gets a "did you mean" from the keys allowed at that place (the ESPHome / Frigate habit).
Defaults live only in the models. Duplicate keys, which PyYAML would silently collapse, are errors.
"""

from __future__ import annotations

import codecs
import difflib
import errno
import types
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from cloud_sync.config import MqttConfig
from edge.air_limits import o2_band_loosening
from edge.combustibles import closest_combustible, combustible
from edge.config import AccessConfig, ClockConfig, DeviceConfig, StorageConfig, TelemetryConfig
from edge.floors import MONITOR_INSTALLED_KINDS, MONITORED_GASES
from edge.gas_config import GasConfig
from edge.gas_tests import canonical_gas
from edge.geofence.config import GpsConfig
from edge.identity.config import IdentityConfig
from edge.models import WORK_KIND_ZH, CircleFence, Zone
from firmware_adapters.badge.config import BadgeConfig
from firmware_adapters.bilingual import BilingualValueError, BilingualWarning
from firmware_adapters.configbase import Section
from firmware_adapters.outputs.config import OutputsConfig
from gateway.config_messages import got_suffix, pydantic_message
from gateway.credentials import SERVICE_CREDENTIALS_DIR
from gateway.errors import GatewayError
from gateway.kiosk.config import KioskConfig


class DaemonConfig(Section):
    """``daemon:``: how often permits are expired (s), each shutdown stage's budget (s), the
    log level, and how long lost monitoring after a start is a wait rather than a suspension."""

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


class MonitorGapWarning(BilingualWarning):
    """The zone's gas monitors leave out work it allows (``monitor_gaps``): valid, but such
    permits will be refused on site (``en``, ``zh``)."""


def monitor_gaps(zone: Zone, gas: GasConfig) -> MonitorGapWarning | None:
    """What the zone's gas monitors leave out for its work kinds, as one warning, or None.

    Hot work and confined space need a judged gas sensor (else every such permit is refused
    ``NO_AIR_DATA``); continuously monitored work (特级 / 一级 hot work, confined space) needs
    sensors for ``edge.floors.MONITORED_GASES`` (else ``MONITOR_INCOMPLETE``). A module that
    names its gas in each frame cannot be judged here and counts as covering everything.
    """
    kinds = [k for k in zone.work_kinds if k in MONITOR_INSTALLED_KINDS]
    if not kinds:
        return None
    channels = [c for s in gas.sensors for c in s.channel_specs() if not c.indicator_only]
    names = ", ".join(k.value for k in kinds)
    names_zh = "、".join(f"{k.value} {WORK_KIND_ZH[k]}" for k in kinds)
    if not channels:
        return MonitorGapWarning(
            f"zone.work_kinds has {names} but no gas sensor judges the air: every such permit "
            "will be refused NO_AIR_DATA (GB 30871 §5.2.6, §6.5); add gas.sensors",
            f"zone.work_kinds 含 {names_zh}，但没有能判定气体的传感器：此类作业许可证"
            "都将以“无气体监测数据”（NO_AIR_DATA）被拒绝（GB 30871 §5.2.6、§6.5）；"
            "请添加 gas.sensors",
        )
    if any(c.gas is None for c in channels):
        return None
    watched = {canonical_gas(c.gas) for c in channels if c.gas is not None}
    gaps = [
        (k, sorted(MONITORED_GASES[k] - watched))
        for k in kinds
        if k in MONITORED_GASES and MONITORED_GASES[k] - watched
    ]
    if not gaps:
        return None
    lacking = sorted(f"{k.value}: {', '.join(g)}" for k, g in gaps)
    lacking_zh = sorted(f"{k.value} {WORK_KIND_ZH[k]}：{'、'.join(g)}" for k, g in gaps)
    return MonitorGapWarning(
        f"no gas sensor watches {'; '.join(lacking)}: 特级 / 一级 hot work and confined space "
        "will be refused MONITOR_INCOMPLETE (GB 30871 §5.2.6, §6.5); add such a sensor",
        f"没有传感器监测 {'；'.join(lacking_zh)}：特级、一级动火作业和受限空间作业将以"
        "“缺少必须连续监测的气体”（MONITOR_INCOMPLETE）被拒绝（GB 30871 §5.2.6、§6.5）；"
        "请添加相应传感器",
    )


class SafeguardWeakenedWarning(BilingualWarning):
    """A valid setting that weakens a check of the gate (a bench or demo setting left in a site
    config, a looser threshold) or that the gateway could not check (``en``, ``zh``)."""


# Loopback hosts where plain MQTT (no TLS) carries nothing over a network.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# The GPS horizontal error and face-mismatch lockout above which check-config says so: the
# defaults (50 m, 3 tries) with room for a site's own choice.
_EPH_SAID_M: float = GpsConfig.model_fields["max_eph_m"].default
_LOCKOUT_SAID = 5
_LOCKOUT_DEFAULT: int = AccessConfig.model_fields["lockout_threshold"].default
# Below this a circle fence is inside a consumer receiver's own error (provision refuses it).
_FENCE_MIN_RADIUS_M = 5.0


def weakened_safeguards(cfg: GatewayConfig) -> list[SafeguardWeakenedWarning]:
    """Each setting of ``cfg`` that weakens a gate check, as one warning (zh-CN and English).

    None of them is an error: each has a use on a bench or in a demo. A technician who copies
    a bench config to a site must hear about it, as check-config says about looser gas limits.
    """
    out: list[SafeguardWeakenedWarning] = []

    def say(en: str, zh: str) -> None:
        out.append(SafeguardWeakenedWarning(en, zh))

    if cfg.clock.assume_trusted:
        say(
            "clock.assume_trusted is true: permit and certificate validity are judged by this "
            "device's clock without NTP or GPS (bench / demo only; never on a site)",
            "clock.assume_trusted 为 true：作业许可证和证书的有效期按本机时钟判断，不经 NTP 或 "
            "GPS 核验（仅用于试验台和演示，现场不得使用）",
        )
    gps = cfg.gps
    if gps.enabled and gps.allow_simulated:
        say(
            "gps.allow_simulated is true: simulated (gpsd status 8) fixes place the terminal "
            "inside the fence (demo only; never on a site)",
            "gps.allow_simulated 为 true：模拟定位（gpsd 状态 8）也算在围栏内（仅用于演示，"
            "现场不得使用）",
        )
    if cfg.zone.geofence is not None and gps.enabled and not gps.require_fix:
        say(
            "gps.require_fix is false: badge-ins are accepted without a GPS fix inside the fence",
            "gps.require_fix 为 false：没有围栏内的 GPS 定位也允许刷卡入场",
        )
    elif cfg.zone.geofence is not None and gps.enabled and gps.no_fix_policy == "warn":
        say(
            "gps.no_fix_policy is warn: without a GPS fix a badge-in is allowed with a warning "
            "instead of denied NO_GPS_FIX",
            "gps.no_fix_policy 为 warn：没有 GPS 定位时刷卡只提示、仍放行，而不是以“无 GPS 定位”"
            "（NO_GPS_FIX）拒绝",
        )
    if gps.enabled and gps.max_eph_m > _EPH_SAID_M:
        say(
            f"gps.max_eph_m is {gps.max_eph_m:g} m: fixes that uncertain still place the "
            f"terminal (default {_EPH_SAID_M:g} m)",
            f"gps.max_eph_m 为 {gps.max_eph_m:g} 米：水平误差这么大的定位仍被采用"
            f"（默认 {_EPH_SAID_M:g} 米）",
        )
    fence = cfg.zone.geofence
    if isinstance(fence, CircleFence) and fence.radius_m < _FENCE_MIN_RADIUS_M:
        say(
            f"zone.geofence.radius_m is {fence.radius_m:g} m, inside a GPS receiver's own error: "
            "the terminal will mostly be judged outside the fence (metres, not kilometres?)",
            f"zone.geofence.radius_m 为 {fence.radius_m:g} 米，小于 GPS 本身的误差：终端将经常被"
            "判为在围栏外（单位是米，不是千米）",
        )
    if cfg.access.lockout_threshold > _LOCKOUT_SAID:
        say(
            f"access.lockout_threshold is {cfg.access.lockout_threshold}: a badge is locked only "
            f"after that many face mismatches (default {_LOCKOUT_DEFAULT})",
            f"access.lockout_threshold 为 {cfg.access.lockout_threshold}：人脸不符这么多次后才"
            f"锁定工卡（默认 {_LOCKOUT_DEFAULT} 次）",
        )
    ident = cfg.identity
    if ident.enabled and ident.multiple_faces == "largest":
        say(
            "identity.multiple_faces is largest: with several faces in view the largest is "
            "judged, so a colleague can badge in holding the card in front of the owner",
            "identity.multiple_faces 为 largest：画面中有多张人脸时只核验最大的一张，"
            "他人可在持卡人身后代刷",
        )
    if ident.enabled and ident.camera.type == "files":
        say(
            "identity.camera.type is files: faces are read from image files, not from the "
            "person at the terminal (tests / demo only)",
            "identity.camera.type 为 files：人脸取自图片文件而非终端前的人（仅用于测试和演示）",
        )
    mqtt = cfg.mqtt
    if mqtt.enabled and not mqtt.tls and mqtt.host not in _LOOPBACK:
        say(
            f"mqtt.tls is false for {mqtt.host}: the broker password, permits and access events "
            "cross the network in clear",
            f"mqtt.tls 为 false（{mqtt.host}）：服务器密码、作业许可证和出入记录以明文在网络上传输",
        )
    mqtt_files = {
        "mqtt.ca_file": mqtt.ca_file,
        "mqtt.cert_file": mqtt.cert_file,
        "mqtt.key_file": mqtt.key_file,
        "mqtt.password_file": mqtt.password_file,
        "mqtt.central_public_key": mqtt.central_public_key,
    }
    for key, path in mqtt_files.items():
        # A file systemd shows only to the running unit (LoadCredential=) is not judged here.
        if not mqtt.enabled or path is None or path.is_relative_to(SERVICE_CREDENTIALS_DIR):
            continue
        if not path.exists():
            say(
                f"{key} {path} does not exist on this machine: the link to central will fail "
                "(selftest names it too); copy the file there or fix the path",
                f"{key} {path} 在本机不存在：与中心的连接将失败（selftest 也会指出）；"
                "请把文件放到该位置或改正路径",
            )
    target = cfg.zone.target_gas
    if combustible(target.name) is None:
        near = closest_combustible(target.name)
        hint_en = f" (did you mean {near}?)" if near else ""
        hint_zh = f"（是否应为 {near}？）" if near else ""
        say(
            f"zone.target_gas.name {target.name!r} is not a gas zonegate knows{hint_en}: its "
            f"LEL {target.lel_vol_percent:g} % vol could not be checked, and every %LEL reading "
            "and the GB 30871 §5.3.2 criterion depend on it",
            f"zone.target_gas.name {target.name!r} 不是已知的可燃气体{hint_zh}：其爆炸下限 "
            f"{target.lel_vol_percent:g} % vol 无法核对，而所有 %LEL 读数的换算和 GB 30871 §5.3.2 "
            "的合格标准都取决于它",
        )
    return out


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
            raise BilingualValueError(
                "zone.geofence is set but gps.enabled is false: enable GPS or remove the fence",
                "已设电子围栏 zone.geofence，但 gps.enabled 为 false：请启用 GPS 或删除围栏",
            )
        return self

    @model_validator(mode="after")
    def _oxygen_band_for_the_zone(self) -> GatewayConfig:
        # Only the whole file knows whether the zone is oxygen-enriched (23.5 % allowed) or
        # not (21 %); the engine applies the cap either way, check-config says so.
        loosening = o2_band_loosening(self.gas.oxygen, oxygen_enriched=self.zone.oxygen_enriched)
        if loosening is not None:
            warnings.warn(loosening, stacklevel=2)
        return self

    @model_validator(mode="after")
    def _monitors_for_the_work_kinds(self) -> GatewayConfig:
        # The daemon refuses hot work and confined space where no gas monitor is installed
        # (NO_AIR_DATA) and monitored work whose monitors lack its gases (MONITOR_INCOMPLETE):
        # say so when the file is checked, not at the first start on site.
        said = monitor_gaps(self.zone, self.gas)
        if said is not None:
            warnings.warn(said, stacklevel=2)
        return self

    @model_validator(mode="after")
    def _weakened_safeguards(self) -> GatewayConfig:
        # Said at every load, as the other warnings: check-config prints them, the daemon logs.
        for said in weakened_safeguards(self):
            warnings.warn(said, stacklevel=2)
        return self

    @property
    def registry_path(self) -> Path:
        """``<storage.state_dir>/registry.json``: workers, permits and accepted documents."""
        return self.storage.state_dir / "registry.json"

    @property
    def journal_path(self) -> Path:
        """``<storage.state_dir>/journal.db``: the audit journal and its outbox (SQLite)."""
        return self.storage.state_dir / "journal.db"


# --------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file: where (``file``, 1-based ``line`` if known, dotted key
    ``path``) and what, in English (``message``) and zh-CN (``message_zh``; empty falls back to
    the English). ``str()`` is the English line; ``text(lang)`` the technician's language."""

    file: str
    line: int | None
    path: str
    message: str
    message_zh: str = ""

    def text(self, lang: str = "en") -> str:
        """``file:line: path: message`` in ``lang`` ("zh-CN" or "en")."""
        message = self.message_zh if lang == "zh-CN" and self.message_zh else self.message
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"

    def __str__(self) -> str:
        return self.text("en")


class ConfigError(GatewayError):
    """A config that cannot be used: ``issues`` lists every problem found (at least one)."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues

    def lines(self, lang: str = "en") -> list[str]:
        """Every issue as ``file:line: path: message`` in ``lang`` ("zh-CN" or "en")."""
        return [i.text(lang) for i in self.issues]


# Bounds on what the loader accepts. A gateway.yaml is a few KB; these are far above any real
# file and far below what would stall the Pi (a "billion laughs" file expands aliases
# exponentially; PyYAML's composer recurses once per nesting level).
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_VALUES = 100_000
MAX_SCALAR_CHARS = 10_000
MAX_ALIASES = 200

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Bounded(Exception):
    """A loader bound was hit; the message says which (English and zh-CN), ``line`` where."""

    def __init__(self, line: int | None, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.message_zh = message_zh

    def issue(self, file: str) -> ConfigIssue:
        return ConfigIssue(file, self.line, "", self.message, self.message_zh)


class _Builder:
    """Build plain data from a composed YAML node, remembering the line of every path.

    Aliases are followed (a shared node appears once per use), so the total of values built is
    bounded (``MAX_VALUES``), as are nesting depth and scalar length; an alias that contains
    itself is refused. Merge keys (``<<: *base``) are applied as YAML 1.1 defines them: keys
    written in the mapping win over merged ones.
    """

    def __init__(self, file: str, issues: list[ConfigIssue]) -> None:
        self.file = file
        self.issues = issues
        self.lines: dict[tuple[Any, ...], int] = {}
        self.values = 0
        self._open: set[int] = set()  # ids of the nodes being built: a cycle re-enters one
        self._scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: tuple[Any, ...] = ()) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Bounded(
                line,
                f"more than {MAX_VALUES} values (aliases expanding too far)",
                f"超过 {MAX_VALUES} 个值（别名展开过多）",
            )
        if len(path) > MAX_DEPTH:
            raise _Bounded(
                line, f"nested deeper than {MAX_DEPTH} levels", f"嵌套超过 {MAX_DEPTH} 层"
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self._open:
            raise _Bounded(
                line,
                "an alias refers to the value that contains it (recursive anchor)",
                "别名引用了包含它自身的值（递归锚点）",
            )
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self._open.discard(id(node))
        kind = type(node).__name__
        raise _Bounded(line, f"unsupported YAML node {kind}", f"不支持的 YAML 节点 {kind}")

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        line = node.start_mark.line + 1
        if len(node.value) > MAX_SCALAR_CHARS:
            raise _Bounded(
                line,
                f"a value longer than {MAX_SCALAR_CHARS} characters",
                f"值超过 {MAX_SCALAR_CHARS} 个字符",
            )
        try:
            return self._scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as err:
            # e.g. an integer of thousands of digits (Python's int() limit), a bad timestamp
            if "digits" in str(err):
                raise _Bounded(line, "a number with too many digits", "数字位数过多") from err
            raise _Bounded(line, f"value cannot be read: {err}", f"无法读取的值：{err}") from err

    def _mapping(self, node: yaml.MappingNode, path: tuple[Any, ...]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            if not isinstance(knode, yaml.ScalarNode):
                raise _Bounded(
                    kline,
                    "a key must be plain text (complex mapping keys: '? ...')",
                    "键必须是普通文本（不支持 '? ...' 形式的复杂键）",
                )
            if knode.tag == _MERGE_TAG:
                self._merge(vnode, path, merged)
                continue
            key = self._scalar(knode)
            if isinstance(key, list | dict):  # pragma: no cover - scalars build no containers
                raise _Bounded(kline, "a key must be plain text", "键必须是普通文本")
            if key in out:
                self.issues.append(
                    ConfigIssue(
                        self.file, kline, _dotted((*path, key)), "duplicate key", "重复的键"
                    )
                )
            self.lines[(*path, key)] = kline
            out[key] = self.build(vnode, (*path, key))
            self.lines[(*path, key)] = kline
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _merge(self, vnode: yaml.Node, path: tuple[Any, ...], into: dict[Any, Any]) -> None:
        sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise _Bounded(
                    src.start_mark.line + 1,
                    "'<<' (merge key) must name a mapping or a list",
                    "'<<'（合并键）必须指向映射或列表",
                )
            data = self.build(src, path)
            for key, value in data.items():
                into.setdefault(key, value)


def _too_deep(file: str) -> ConfigIssue:
    return ConfigIssue(
        file,
        None,
        "",
        f"nested deeper than {MAX_DEPTH} levels",
        f"嵌套超过 {MAX_DEPTH} 层",
    )


# Why a config cannot be read, in Chinese, for the errors a technician meets (strerror is
# English).
_OS_ERRORS_ZH: dict[int, str] = {
    errno.ENOENT: "文件不存在（先运行 zonegate provision，或用 -c 指定配置文件）",
    errno.EACCES: "没有读取权限（用 sudo 运行，或检查文件权限）",
    errno.EISDIR: "这是一个目录，不是配置文件",
    errno.ENOTDIR: "路径中有一部分不是目录",
}


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


def _union_models(tp: Any) -> list[type[BaseModel]]:
    """The model classes of a (possibly Annotated, possibly optional) union, flattened."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _union_models(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _union_models(a)]
    return [tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any, part: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        models = _union_models(tp)
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


def _in_file(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the parts pydantic adds that are not in the file (union tags)."""
    out: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_list or (isinstance(current, dict) and part in current):
            current = current[part]
            out.append(part)
        elif isinstance(current, dict | list):
            # Not a key here: a union tag (``circle``) unless it is the last part, which is the
            # missing or unknown key itself.
            if i == len(loc) - 1:
                out.append(part)
        else:
            out.append(part)
    return tuple(out)


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, max(0, index)) + 1


def decode_config(raw: bytes, file: str) -> str:
    """The config's text from its bytes; UTF-8 only, with a file:line error otherwise."""
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    None,
                    "",
                    f"the file is larger than {MAX_FILE_BYTES} bytes",
                    f"文件超过 {MAX_FILE_BYTES} 字节",
                )
            ]
        )
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if raw.startswith(bom):
            raise ConfigError(
                [
                    ConfigIssue(
                        file,
                        1,
                        "",
                        f"saved as {name}: save the file as UTF-8",
                        f"文件保存为 {name}：请另存为 UTF-8",
                    )
                ]
            )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        hint, hint_zh = "save the file as UTF-8", "请另存为 UTF-8"
        try:
            raw.decode("gb18030")
            hint = "it looks like GBK/GB18030 (a Chinese Windows editor's default): " + hint
            hint_zh = "看起来是 GBK/GB18030 编码（中文 Windows 编辑器的默认编码）：" + hint_zh
        except UnicodeDecodeError:
            pass
        byte = f"0x{raw[err.start]:02x}"
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    line,
                    "",
                    f"not UTF-8 (byte {byte}): {hint}",
                    f"不是 UTF-8 编码（字节 {byte}）：{hint_zh}",
                )
            ]
        ) from err


def _prescan(text: str) -> None:
    """Walk the parser's events (iteratively) to refuse deep nesting and alias floods before
    the recursive composer sees them."""
    depth = 0
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Bounded(
                    line, f"nested deeper than {MAX_DEPTH} levels", f"嵌套超过 {MAX_DEPTH} 层"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _Bounded(
                    line,
                    f"more than {MAX_ALIASES} aliases (*name)",
                    f"别名（*name）超过 {MAX_ALIASES} 个",
                )


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        _prescan(text)
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except _Bounded as err:
        raise ConfigError([err.issue(file)]) from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        # PyYAML's problem text is English only; the Chinese says what kind of fault it is.
        problem = err.problem or str(err)
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    line,
                    "",
                    f"not valid YAML: {problem}",
                    f"不是有效的 YAML（{problem}）",
                )
            ]
        ) from err
    except yaml.reader.ReaderError as err:
        line = _line_at(text, err.position)
        char = repr(err.character)
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    line,
                    "",
                    f"not valid YAML: character {char}",
                    f"不是有效的 YAML：不允许的字符 {char}",
                )
            ]
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(
            [ConfigIssue(file, None, "", f"not valid YAML: {err}", f"不是有效的 YAML（{err}）")]
        ) from err
    except RecursionError as err:
        raise ConfigError([_too_deep(file)]) from err


# Words a technician writes for a key by another name, that difflib cannot find because they
# are not spelt alike (issue 13 #21: ``badge: {type: file, path: /dev/ttyUSB0}``). Used only
# where the owning section has the target key.
KEY_SYNONYMS: dict[str, str] = {
    "path": "port",
    "file": "port",
    "device": "port",
    "dev": "port",
    "tty": "port",
    "baud": "baudrate",
    "baud_rate": "baudrate",
}


def _near_key(key: str, fields: list[str]) -> str | None:
    """The allowed key ``key`` was likely meant as: a known synonym, else the closest spelling."""
    synonym = KEY_SYNONYMS.get(key)
    if synonym in fields:
        return synonym
    near = difflib.get_close_matches(key, fields, n=1)
    return near[0] if near else None


def _validation_issues(
    err: ValidationError, data: dict[str, Any], lines: dict[tuple[Any, ...], int], file: str
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    # A misspelt key (``raduis_m``) also makes its correct twin "missing": report the typo once.
    explained: set[tuple[Any, ...]] = set()
    for e in err.errors():
        if e["type"] != "extra_forbidden":
            continue
        loc = tuple(e["loc"])
        owner = _model_at(GatewayConfig, loc[:-1])
        if owner is not None:
            close = _near_key(str(loc[-1]), list(owner.model_fields))
            if close is not None:
                explained.add((*loc[:-1], close))
    for e in err.errors():
        loc = tuple(e["loc"])
        if e["type"] == "missing" and loc in explained:
            continue
        zh, en = pydantic_message(e)
        if e["type"] == "extra_forbidden":
            en = "unknown key"
            owner = _model_at(GatewayConfig, loc[:-1])
            if owner is not None:
                near = _near_key(str(loc[-1]), list(owner.model_fields))
                if near is not None:
                    en += f"; did you mean '{near}'?"
                    zh += f"；是否应为 '{near}'？"
        elif e["type"] == "union_tag_not_found":
            tag = str(e.get("ctx", {}).get("discriminator", "'type'"))
            en = f"needs a {tag} key saying which kind it is"
            zh = f"需要 {tag} 键说明是哪一种"
        elif e["type"] == "union_tag_invalid":
            ctx = e.get("ctx", {})
            tag_key = ctx.get("discriminator", "type")
            expected, got = ctx.get("expected_tags"), ctx.get("tag")
            en = f"{tag_key} must be one of {expected} (got {got!r})"
            zh = f"{tag_key} 应为以下之一：{expected}（实际为 {got!r}）"
        elif e["type"] != "value_error" and "input" in e and e["type"] != "missing":
            got_zh, got_en = got_suffix(e["input"])
            en += got_en
            zh += got_zh
        where = _in_file(data, loc)
        issues.append(ConfigIssue(file, _line_for(lines, where), _dotted(where), en, zh))
    return sorted(issues, key=lambda i: (i.line or 0, i.path))


def parse_config(text: str, file: str = "<config>") -> GatewayConfig:
    """Validate YAML text; raise ``ConfigError`` listing every problem with its line.

    Never raises anything else for any text: hostile input (recursive or exponential aliases,
    deep nesting, huge numbers, complex keys) is refused within the bounds above.
    """
    issues: list[ConfigIssue] = []
    node = _compose(text, file)
    if node is None:
        raise ConfigError([ConfigIssue(file, 1, "", "the file is empty", "文件为空")])
    builder = _Builder(file, issues)
    try:
        data = builder.build(node)
    except _Bounded as err:
        raise ConfigError([err.issue(file)]) from err
    except RecursionError as err:
        raise ConfigError([_too_deep(file)]) from err
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    1,
                    "",
                    "the top level must be a mapping",
                    "最外层必须是映射（键: 值）",
                )
            ]
        )
    for key in data:
        if not isinstance(key, str):
            issues.append(
                ConfigIssue(
                    file,
                    builder.lines.get((key,)),
                    str(key),
                    "a key must be text",
                    "键必须是文本",
                )
            )
    if issues:
        raise ConfigError(issues)
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_validation_issues(err, data, builder.lines, file)) from err


def key_lines(text: str, file: str) -> dict[str, int]:
    """Every key path of a YAML text, dotted as ``ConfigIssue.path`` gives it
    (``gas.sensors[0].port``), mapped to its 1-based line in ``file``.

    For a file merged into another (a provisioning template or overlay): an issue found in the
    merged config can be reported at the line that gave the key. ``{}`` when the text cannot
    be composed (that file's own error is reported where it is read).
    """
    try:
        node = _compose(text, file)
        if node is None:
            return {}
        builder = _Builder(file, [])
        builder.build(node)
    except (ConfigError, _Bounded, RecursionError):
        return {}
    return {_dotted(path): line for path, line in builder.lines.items() if path}


def load_config(path: Path) -> GatewayConfig:
    """Read and validate ``path``; raise ``ConfigError`` (file:line issues) on any problem."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        why_zh = _OS_ERRORS_ZH.get(err.errno or 0, err.strerror or str(err))
        raise ConfigError(
            [
                ConfigIssue(
                    str(path),
                    None,
                    "",
                    f"cannot read: {err.strerror}",
                    f"无法读取：{why_zh}",
                )
            ]
        ) from err
    return parse_config(decode_config(raw, str(path)), str(path))
