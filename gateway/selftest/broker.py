"""Self-test of the sync path: central's key, the broker login, and the ACL both ways.

The broker check reads its own command topics AND writes its own status topic and reads it
back: mosquitto acknowledges a publish its ACL denies and drops it, so only the echo proves
that events would reach central (issue 13 item 2).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.selftest.outcome import CheckResult, Status, Words

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

DISABLED = Words("BROKER_DISABLED", "mqtt.enabled 为 false", "mqtt.enabled is false")
KEY_OK = Words("CENTRAL_KEY_OK", "Ed25519 公钥 {path}", "Ed25519 public key {path}")
KEY_BAD = Words(
    "CENTRAL_KEY_BAD",
    "{path}：{error}：无法验证中心的任何指令",
    "{path}: {error}: no command from central can be verified",
    "zonegate provision --force --central-key central.pub（公钥由中心提供；设备密钥保留不变）",
    "zonegate provision --force --central-key central.pub (key from central; the device key "
    "is kept)",
)
PASSWORD_UNREADABLE = Words(
    "BROKER_PASSWORD_UNREADABLE",
    "无法读取 broker 密码：{error}",
    "cannot read the broker password: {error}",
    "以 root 运行自检（凭据仅 root 可读），或重新运行 zonegate provision",
    "run selftest as root (credentials are root-only) or re-run zonegate provision",
)
TLS_FILES = Words(
    "BROKER_TLS_FILES",
    "TLS 文件不可用（{files}）：{error}",
    "TLS files unusable ({files}): {error}",
    "检查 mqtt.ca_file / cert_file / key_file：须为 PEM 文件（CA 为签发 broker 证书的 CA）",
    "check mqtt.ca_file / cert_file / key_file: PEM files (the CA that signed the broker's "
    "certificate)",
)
# One named file cannot be read: which one, and why, in both languages (a fresh-technician
# test got "[Errno 2] No such file or directory" and no file name).
TLS_FILE_UNREADABLE = Words(
    "BROKER_TLS_FILE_UNREADABLE",
    "TLS 文件不可用：{key} {path}：{why_zh}",
    "TLS file unusable: {key} {path}: {why_en}",
    "把 broker 的 CA 证书放到该处，或改 {key}；用 zonegate provision --force --ca-file CA.pem "
    "重新 provision 会把 CA 复制到 /etc/zonegate/broker-ca.pem（设备密钥保留不变）",
    "put the broker's CA certificate there or change {key}; zonegate provision --force "
    "--ca-file CA.pem copies the CA to /etc/zonegate/broker-ca.pem (the device key is kept)",
)
DAEMON_API_SILENT = Words(
    "BROKER_DAEMON_API_SILENT",
    "守护进程在运行，但其操作接口没有应答（{error}）；为免抢占守护进程的会话，未探测 broker",
    "the daemon is running but its operator API does not answer ({error}); the broker was not "
    "probed, so as not to take the daemon's session over",
    "zonegate status；或停止守护进程后再次运行自检",
    "zonegate status; or stop the daemon and run selftest again",
)
DAEMON_NO_LINK = Words(
    "BROKER_DAEMON_NO_LINK",
    "运行中的守护进程尚未报告连接状态",
    "the running daemon reports no link state yet",
)
DAEMON_LINK_UP = Words(
    "BROKER_DAEMON_LINK_UP",
    "运行中的守护进程已连接（{words}）",
    "the running daemon's link is up ({words})",
)
DAEMON_LINK_DOWN = Words(
    "BROKER_DAEMON_LINK_DOWN",
    "运行中的守护进程的连接：[{diagnosis}] {words}；最后错误：{error}",
    "the running daemon's link: [{diagnosis}] {words}; last error: {error}",
    "SESSION_TAKEN_OVER：每台网关须有自己的设备号（克隆机请重新 provision）；否则查看 broker 日志",
    "SESSION_TAKEN_OVER: give each gateway its own device id (re-provision the clone); "
    "otherwise see the broker log",
)
NO_ANSWER = Words(
    "BROKER_NO_ANSWER",
    "{host}:{port} 在 {budget:.0f} 秒内没有应答",
    "no answer from {host}:{port} in {budget:.0f} s",
    "检查主机、端口和防火墙；TLS 用 8883，明文用 1883",
    "check the host, port and firewall; TLS on 8883, plain on 1883",
)
LOGIN_REFUSED = Words(
    "BROKER_LOGIN_REFUSED",
    "broker 拒绝了用户 {user!r}：{error}",
    "the broker refused user {user!r}: {error}",
    "密码须与 broker 上的一致（mosquitto_passwd）；用正确的 --broker-password-file 重新运行 "
    "zonegate provision --force（设备密钥保留不变）",
    "the password must match the broker's (mosquitto_passwd); re-run zonegate provision "
    "--force with the right --broker-password-file (the device key is kept)",
)
TLS_HANDSHAKE = Words(
    "BROKER_TLS_HANDSHAKE",
    "TLS 握手失败：{error}",
    "TLS handshake failed: {error}",
    "mqtt.ca_file 必须是签发 broker 证书的 CA",
    "mqtt.ca_file must be the CA that signed the broker certificate",
)
CANNOT_CONNECT = Words(
    "BROKER_CANNOT_CONNECT",
    "无法连接 {host}:{port}：{error}",
    "cannot connect to {host}:{port}: {error}",
    "broker 是否在运行、从这里能否访问？",
    "is the broker running and reachable from here?",
)
ACL_NO_COMMANDS = Words(
    "BROKER_ACL_NO_COMMANDS",
    "已连接，但 ACL 拒绝订阅 {filter}：中心的指令将永远到不了",
    "connected, but the ACL refuses {filter}: commands would never arrive",
    "在 broker 的 ACL 中加入 `pattern read edge/v1/{site}/%u/cmd/+`（站点段为本机的 zone.site，"
    "不是 +），并以设备号作为 broker 用户名",
    "add `pattern read edge/v1/{site}/%u/cmd/+` to the broker ACL (the site level is this "
    "gateway's zone.site, not +) and use the device id as the broker user name",
)
_NO_WRITE_ZH = (
    "已以 {user!r} 连接，但写入 {topic} 的消息没有回来：broker 不允许该用户写 {prefix}/ 下的主题，"
    "所有事件都会被确认后丢失"
)
_NO_WRITE_EN = (
    "connected as {user!r}, but what it wrote to {topic} never came back: the broker does not "
    "let this user write under {prefix}/, so every event would be acknowledged and lost"
)
# The user name is already the device id: what is left is the ACL's site level. The shipped
# ACL keeps @SITE@ until installed (fail closed); "+" there would let a device publish as
# itself under any site, so the fix names the site, never "+".
ACL_NO_WRITE = Words(
    "BROKER_ACL_NO_WRITE",
    _NO_WRITE_ZH,
    _NO_WRITE_EN,
    "broker 的 ACL 须允许 {user!r} 写 edge/v1/{site}/{device}/ 下的主题；随附 ACL 中设备各行的"
    "站点段须为本机的厂区 {site}（zone.site）：安装时替换 "
    "@SITE@，如 sed 's/@SITE@/{site}/' config/mosquitto/zonegate.acl "
    "> /etc/mosquitto/zonegate.acl，"
    "再让 mosquitto 重新加载（systemctl reload mosquitto 或 kill -HUP）；不要用 + 代替站点"
    "（设备就能以自己的名义在任何厂区发布）。设备密钥保留不变，不要为此使用 --rotate-key",
    "the broker's ACL must let {user!r} write under edge/v1/{site}/{device}/; the device lines "
    "of the shipped ACL must name this gateway's site {site} (zone.site): replace @SITE@ "
    "when installing it, e.g. sed 's/@SITE@/{site}/' "
    "config/mosquitto/zonegate.acl > /etc/mosquitto/zonegate.acl, then reload mosquitto "
    "(systemctl reload mosquitto or kill -HUP); never + for the site (a device could then "
    "publish as itself under any site). The device key is kept; never --rotate-key for this",
)
ACL_NO_WRITE_USER = Words(
    "BROKER_ACL_NO_WRITE_USER",
    _NO_WRITE_ZH,
    _NO_WRITE_EN,
    "broker 用户名须为设备号（ACL 的 %u）：设 mqtt.username: {device} 并在 broker 上建该用户"
    "（mosquitto_passwd），或 `zonegate provision --force --broker-username {device}`"
    "（设备密钥保留不变；不要为此使用 --rotate-key）",
    "the broker user name must be the device id (the ACL's %u): set mqtt.username: {device} "
    "and create that user on the broker (mosquitto_passwd), or `zonegate provision --force "
    "--broker-username {device}` (the device key is kept; never --rotate-key for this)",
)
CONNECTED = Words(
    "BROKER_OK",
    "已以 {user!r} 连接；ACL：可读本机指令、可写本机主题（已发布并读回）；{acl_zh}",
    "connected as {user!r}; ACL: own commands readable, own topics writable (published and "
    "read back); {acl_en}",
)


def credential_path(path: Path, credentials_dir: Path) -> Path:
    """Where a technician finds a file the YAML names under the service's credentials dir."""
    from gateway.credentials import credential_path as resolve

    return resolve(path, credentials_dir)


async def check_broker(
    cfg: GatewayConfig, credentials_dir: Path, budget_s: float
) -> list[CheckResult]:
    """``central key`` (central's Ed25519 key loads) and ``broker`` (login, own commands
    readable, own status writable and read back) within ``budget_s`` seconds.

    While a daemon runs, its own link is asked instead (a second login as the same user would
    take its session over).
    """
    m = cfg.mqtt
    if not m.enabled:
        return [DISABLED.result("broker", Status.SKIPPED)]
    from cloud_sync.link import tls_context
    from cloud_sync.signing import load_public_key
    from cloud_sync.topics import DeviceTopics

    results: list[CheckResult] = []
    assert m.central_public_key is not None  # enforced by MqttConfig when enabled
    key_path = credential_path(m.central_public_key, credentials_dir)
    try:
        load_public_key(key_path)
        results.append(KEY_OK.result("central key", Status.PASS, path=key_path))
    except (OSError, ValueError, TypeError) as err:
        results.append(KEY_BAD.result("central key", Status.FAIL, path=key_path, error=err))

    password: str | None = None
    try:
        if m.password_credential is not None:
            creds = Path(os.environ.get("CREDENTIALS_DIRECTORY") or credentials_dir)
            lines = (creds / m.password_credential).read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
        elif m.password_file is not None:
            lines = m.password_file.read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
    except OSError as err:
        results.append(PASSWORD_UNREADABLE.result("broker", Status.FAIL, error=err))
        return results

    topics = DeviceTopics(cfg.zone.site, cfg.device.device_id)
    details: dict[str, Any] = {"broker": f"{m.host}:{m.port}", "tls": m.tls, "user": m.username}
    from gateway.daemon import daemon_running

    if daemon_running(cfg.storage.state_dir):
        # A second connection as this user would take the running daemon's session over (the
        # shipped broker forces client id = user name): ask the daemon how its link is instead.
        results.append(await _link_of_running_daemon(cfg, details))
        return results
    try:
        ctx = (
            tls_context(
                str(m.ca_file) if m.ca_file else None,
                str(m.cert_file) if m.cert_file else None,
                str(m.key_file) if m.key_file else None,
            )
            if m.tls
            else None
        )
    except (OSError, ValueError) as err:
        results.append(_tls_files_result(m, details, err))
        return results
    results.append(await _probe_broker(m, topics, password, ctx, budget_s, details))
    return results


def _tls_files_result(m: Any, details: dict[str, Any], err: Exception) -> CheckResult:
    """The TLS files' failure naming the file: the first one named that cannot be read
    (why in both languages), else every file named with the TLS library's error."""
    import errno

    named = [
        (key, path)
        for key, path in (
            ("mqtt.ca_file", m.ca_file),
            ("mqtt.cert_file", m.cert_file),
            ("mqtt.key_file", m.key_file),
        )
        if path is not None
    ]
    for key, path in named:
        try:
            with open(path, "rb"):
                pass
        except OSError as problem:
            why_zh, why_en = {
                errno.ENOENT: ("文件不存在", "no such file"),
                errno.EACCES: (
                    "无权读取（以 root 运行自检？）",
                    "permission denied (run as root?)",
                ),
                errno.EISDIR: ("这是一个目录", "it is a directory"),
            }.get(problem.errno or 0, (str(problem.strerror), str(problem.strerror)))
            return TLS_FILE_UNREADABLE.result(
                "broker", Status.FAIL, details, key=key, path=path, why_zh=why_zh, why_en=why_en
            )
    files = ", ".join(f"{key} {path}" for key, path in named) or "mqtt.ca_file -"
    return TLS_FILES.result("broker", Status.FAIL, details, files=files, error=err)


async def _link_of_running_daemon(cfg: GatewayConfig, details: dict[str, Any]) -> CheckResult:
    """The broker check from the running daemon's own link (diagnosis code and words)."""
    from gateway.operator_api import call, socket_path_for

    try:
        code, body = await asyncio.to_thread(call, socket_path_for(cfg), "GET", "/status")
    except (OSError, TimeoutError) as err:
        return DAEMON_API_SILENT.result("broker", Status.WARN, details, error=err)
    link = body.get("link") if code == 200 else None
    if not isinstance(link, dict) or "diagnosis" not in link:
        return DAEMON_NO_LINK.result("broker", Status.WARN, details)
    details.update({k: link.get(k) for k in ("diagnosis", "last_error", "rival_boot_id")})
    words = f"{link.get('diagnosis_zh')} / {link.get('diagnosis_en')}"
    if link.get("connected") and link.get("diagnosis") == "OK":
        return DAEMON_LINK_UP.result("broker", Status.PASS, details, words=words)
    return DAEMON_LINK_DOWN.result(
        "broker",
        Status.FAIL,
        details,
        diagnosis=link.get("diagnosis"),
        words=words,
        error=link.get("last_error"),
    )


async def _probe_broker(
    m: Any, topics: Any, password: str | None, ctx: Any, budget_s: float, details: dict[str, Any]
) -> CheckResult:
    import aiomqtt

    # Never the daemon's client id: the broker would drop the running daemon's session.
    client_id = f"{m.client_id or f'{topics.site}-{topics.device}'}-selftest"
    # Half the budget to connect and subscribe, the rest to see our own write come back.
    echo_s = max(budget_s / 2, 1.0)
    other = f"edge/v1/{topics.site}/zonegate-selftest-other/cmd/+"
    where = {"host": m.host, "port": m.port}
    try:
        async with asyncio.timeout(budget_s):
            async with aiomqtt.Client(
                m.host,
                m.port,
                username=m.username,
                password=password,
                identifier=client_id,
                tls_context=ctx,
                timeout=budget_s,
            ) as client:
                own = await client.subscribe(topics.cmd_filter, qos=1)
                foreign = await client.subscribe(other, qos=1)
                written = await _write_echo(client, topics, echo_s)
    except TimeoutError:
        return NO_ANSWER.result("broker", Status.FAIL, details, budget=budget_s, **where)
    except aiomqtt.MqttError as err:
        text = str(err)
        low = text.lower()
        if "not authori" in low or "bad user" in low or "password" in low or "code:5" in low:
            return LOGIN_REFUSED.result("broker", Status.FAIL, details, user=m.username, error=text)
        if "certificate" in low or "ssl" in low or "tls" in low:
            return TLS_HANDSHAKE.result("broker", Status.FAIL, details, error=text)
        return CANNOT_CONNECT.result("broker", Status.FAIL, details, error=text, **where)
    own_ok = all(_granted(c) for c in own)
    foreign_ok = all(_granted(c) for c in foreign)
    details["acl"] = {
        "own_commands": own_ok,
        "other_device_commands": foreign_ok,
        "own_topics_writable": written,
    }
    if not own_ok:
        return ACL_NO_COMMANDS.result(
            "broker", Status.FAIL, details, filter=topics.cmd_filter, site=topics.site
        )
    if not written:
        # mosquitto acknowledges a publish its ACL denies and drops it: without this check the
        # daemon would stamp every event delivered and lose it (see cloud_sync.link._announce).
        words = ACL_NO_WRITE if m.username == topics.device else ACL_NO_WRITE_USER
        return words.result(
            "broker",
            Status.FAIL,
            details,
            user=m.username,
            topic=topics.status,
            prefix=topics.prefix,
            device=topics.device,
            site=topics.site,
        )
    # Mosquitto's acl_file grants every SUBACK and filters at delivery, so a granted foreign
    # subscription proves nothing there; a broker that refuses it at SUBACK proves the ACL.
    if not foreign_ok:
        acl_zh, acl_en = "他机指令被拒", "others' commands refused"
    else:
        acl_zh = "订阅他机指令未被拒（broker 可能在投递时过滤）"
        acl_en = "others' commands not refused at subscribe (the broker may filter at delivery)"
    return CONNECTED.result(
        "broker", Status.PASS, details, user=m.username, acl_zh=acl_zh, acl_en=acl_en
    )


async def _write_echo(client: Any, topics: Any, budget_s: float) -> bool:
    """Publish a retained ``offline`` status (true: selftest runs only while the daemon is
    stopped) and wait to read it back: the only proof the ACL lets this user write."""
    from cloud_sync.payloads import Status as StatusPayload

    payload = (
        StatusPayload(
            state="offline",
            site=topics.site,
            device=topics.device,
            boot_id=f"selftest-{os.getpid()}-{time.monotonic_ns()}",
            connection=0,
        )
        .model_dump_json()
        .encode()
    )
    await client.subscribe(topics.status, qos=1)
    await client.publish(topics.status, payload, qos=1, retain=True)
    try:
        async with asyncio.timeout(budget_s):
            async for message in client.messages:
                if str(message.topic) == topics.status and message.payload == payload:
                    return True
    except TimeoutError:
        return False
    return False


def _granted(code: Any) -> bool:
    value = getattr(code, "value", code)
    return isinstance(value, int) and value < 0x80
