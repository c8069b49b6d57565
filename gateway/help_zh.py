"""``zonegate --help`` and argparse's usage errors in zh-CN (issue 13 item 3).

English stays the source: every module writes its ``add_argument(..., help="...")`` in English as
before. This module holds the Chinese for each of those texts, keyed by (command, option), and
``localize(parser, lang)`` applies it once, after ``gateway.cli.build_parser()``, by walking the
parser tree. argparse's own words (``usage:``, ``options``, ``error:``, "the following arguments
are required" ...) are said in zh-CN by ``ZonegateParser`` / ``ZhHelpFormatter``.

Why a subclass and not a gettext catalogue for argparse's msgids: argparse looks its words up
through the module-level ``argparse._`` (``gettext.gettext`` on the global "messages" domain), so
a translation installed there would change every parser in the process and, as a patch of the
standard library, would have to be swapped in and out around each parse. The subclass is scoped
to zonegate's parsers, typed, and uses only what argparse documents for subclassing (``error``,
``formatter_class``, ``HelpFormatter`` with a ``prefix``); the messages argparse builds before
calling ``error`` are matched against its (stable, since 3.9) English templates below; a message
none of them matches is shown as argparse wrote it, never dropped.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from edge.reasons import Lang
from gateway.cli_options import DEFAULT_CONFIG

# The top-level parser's own key; a subcommand is its words joined by a space ("central sign").
TOP = ""
# Keys for a (sub)parser's own texts: its description, and its line in the parent's command list.
DESCRIPTION = "@description"
LISTED = "@help"

_LANG_HELP = "output language (default: device.language of the config, else zh-CN)"
_CONFIG_HELP = f"gateway YAML (default {DEFAULT_CONFIG})"  # as add_config_arg writes it
_BROKER_CLIENT_ID = (
    "MQTT client id; for watch, naming one makes the session persistent (a missed event waits at "
    "the broker), without it each watcher gets a unique clean session"
)

# Options several commands share with the same English: (option, English help) -> Chinese. Keyed
# by the English too, so an option whose text differs in one command (logs' --config is read
# only for its language) needs its own entry in ZH_HELP, and a changed English text shows up as
# missing in tests/core/test_help_zh.py instead of keeping an out-of-date translation.
ZH_SHARED: dict[tuple[str, str], str] = {
    ("--config", _CONFIG_HELP): "网关配置 YAML（默认 /etc/zonegate/gateway.yaml）",
    ("--lang", _LANG_HELP): "输出语言（默认：配置中的 device.language，否则 zh-CN）",
    ("--json", "end with one JSON object on one line"): "最后输出一行 JSON 对象",
    ("--json", "print one JSON object"): "输出一个 JSON 对象",
    ("type", "command type"): "指令类型",
    ("--key", "central's private key (PEM)"): "中心端私钥（PEM）",
    ("--version", "document version (must grow per document)"): "文档版本（同一文档须递增）",
    ("--body", "JSON body file ('-' = stdin)"): "JSON 正文文件（'-' 表示标准输入）",
    ("--ttl", "seconds until the command expires"): "指令有效秒数",
    (
        "--port",
        "the central listener of the shipped mosquitto.conf",
    ): "随附 mosquitto.conf 中的中心端监听端口",
    ("--ca", "CA of the broker certificate (PEM)"): "MQTT 服务器证书的 CA（PEM）",
    ("--no-tls", "plain MQTT (loopback only)"): "不加密的 MQTT（仅限本机回环）",
    (
        "--client-id",
        _BROKER_CLIENT_ID,
    ): "MQTT 客户端编号；用于 watch 时，指定编号即为持久会话（错过的事件在服务器等待），"
    "不指定则每个监视端使用唯一的临时会话",
}

# (command, option) -> Chinese; option is the longest option string ("--config"), a
# positional's dest ("worker_id"), DESCRIPTION or LISTED.
ZH_HELP: dict[tuple[str, str], str] = {
    (TOP, DESCRIPTION): "危险作业区域网关",
    (TOP, "--lang"): "帮助、用法错误和命令输出的语言（默认：配置中的 device.language，否则 zh-CN）",
    ("run", LISTED): "运行网关守护进程",
    ("check-config", LISTED): "检查配置文件；有任何错误时退出码 78",
    ("status", LISTED): "从存储中读取区域、作业票、在场人员和运行状况",
    ("demo", LISTED): "运行一个完整的模拟区域并输出其时间线",
    ("gps", LISTED): "GPS / gpsd 工具",
    ("enroll", LISTED): "采集人员人脸（只保存加密的特征值）",
    ("central", LISTED): "参考中心端：密钥、指令、监视",
    ("provision", LISTED): "写入 gateway.yaml、设备密钥和凭据；输出中心端需登记的内容",
    (
        "selftest",
        LISTED,
    ): "检查传感器、摄像头、GPS、MQTT 服务器、时钟和磁盘；任何一项失败则退出码非零",
    ("import-roster", LISTED): "从 .csv、.xlsx 或 .xls 名单导入人员和证书",
    ("roster", LISTED): "列出已导入的人员：卡号、证书、站点角色、是否已采集人脸",
    ("permit", LISTED): "列出或查看本区域的作业票（只读）",
    ("logs", LISTED): "跟踪守护进程日志（journalctl -u zonegate -f）",
    ("bind-badges", LISTED): "在读卡器上刷卡，为人员绑定卡号（需先停止守护进程）",
    ("reset-store", LISTED): "有意将损坏或孤立的存储移到一旁，并新建一个空存储",
    ("check-config", "config_file"): "同 -c（旧写法）",
    ("demo", "--keep"): "保留演示的状态目录",
    ("demo", "--capture"): "将中心端收到的每条 MQTT 消息追加到此文件（JSON 行）",
    ("gps probe", LISTED): "监视 gpsd，报告定位、被拒绝的定位和电子围栏",
    ("gps probe", "--host"): "gpsd 主机（默认：配置中的 gps.host，否则 127.0.0.1）",
    ("gps probe", "--port"): "gpsd 端口（默认：gps.port，否则 2947）",
    ("gps probe", "--seconds"): "监视时长（默认 10 秒）",
    (
        "gps probe",
        "--config",
    ): "用于门禁设置和区域围栏的网关配置 YAML（默认 /etc/zonegate/gateway.yaml，存在时）",
    ("enroll", "worker_id"): "名单上的工号",
    ("enroll", "--photos"): "人脸照片",
    ("enroll", "--camera"): "用终端摄像头拍摄",
    ("enroll", "--shots"): "拍摄张数（默认 5）",
    (
        "enroll",
        "--confirm-same-face",
    ): "即使此人脸已登记在另一名人员名下也保存（仅在确认是两个人之后，例如双胞胎）",
    ("central keygen", LISTED): "生成中心端的 Ed25519 密钥对",
    ("central sign", LISTED): "输出一个已签名的指令信封",
    ("central publish", LISTED): "签名（或直接使用）一条指令，发布并输出回复",
    ("central watch", LISTED): "设备群实时表（按 event_id 去重）",
    ("central ingest", LISTED): "将设备群的事件写入 PostgreSQL",
    ("central roster-load", LISTED): "加载名单文档，用于证书提醒",
    ("central docs", LISTED): "写出 MQTT 主题页面和 JSON Schema",
    ("central keygen", "--out"): "central.key/.pub 所在目录",
    ("central publish", "--envelope"): "发布这个已签名的信封",
    ("central publish", "--wait"): "等待回复的秒数",
    ("central watch", "--seconds"): "监视此时长后停止",
    ("central watch", "--events"): "每个新事件输出一行",
    ("central ingest", "--dsn"): "PostgreSQL 连接串（libpq）",
    ("central ingest", "--group"): "共享订阅组名",
    ("central ingest", "--batch"): "每个事务最多的消息数",
    ("central ingest", "--telemetry"): "同时保存遥测数据",
    ("central ingest", "--key"): "中心端私钥：用于请求网关重发序号缺口",
    ("central ingest", "--gap-check-s"): "检查缺口的间隔",
    ("central ingest", "--gap-grace-s"): "空缺存在多久才算缺口",
    ("central roster-load", "file"): "roster_update 正文，或人员的 JSON 列表",
    (
        "central docs",
        "--examples",
    ): "测试运行得到的事件示例（pytest --event-examples FILE）；默认：保留 --out 下已有的",
    (
        "provision",
        DESCRIPTION,
    ): "配置本网关。未以参数给出的值在终端上询问。密钥存入 systemd 凭据，绝不写入 YAML。",
    ("provision", "--root"): "安装到此根目录下",
    ("provision", "--template"): "以此 YAML 为起点（传感器、摄像头等）",
    (
        "provision",
        "--overlay",
    ): "在模板之上、参数之前合并的 YAML（可重复，按顺序）：现场自己的端口和间隔；"
    "映射逐键合并，列表和值整体替换",
    ("provision", "--work-kinds"): "逗号分隔，例如 DHZY,YXKJ,LSYD",
    ("provision", "--fence"): "圆形电子围栏 纬度,经度,半径米",
    ("provision", "--state-dir"): "默认 /var/lib/zonegate",
    ("provision", "--assume-clock-trusted"): "仅限台架测试：不经 NTP/GPS 直接信任系统时钟",
    ("provision", "--broker-host"): "MQTT 服务器；省略则不同步",
    (
        "provision",
        "--broker-username",
    ): "默认：设备编号（服务器 ACL 中的 %%u），不论模板中写的是什么",
    ("provision", "--broker-password-file"): "第一行为密码的文件",
    ("provision", "--no-tls"): "不加密的 MQTT（仅限可信的本机回环）",
    ("provision", "--ca-file"): "MQTT 服务器证书的 CA",
    ("provision", "--central-key"): "中心端的 Ed25519 公钥（PEM）",
    ("provision", "--force"): "重写已有的配置和凭据；设备密钥保留",
    ("provision", "--rotate-key"): "生成新的设备密钥（中心端须重新登记本网关）",
    (
        "provision",
        "--seal",
    ): "用 systemd-creds 封存设备密钥、MQTT 密码和人脸特征密钥"
    "（auto：有 TPM2 时用 TPM2 加主机密钥；host；tpm2；host+tpm2）；"
    "已封存过的网关在 --force 时仍保持封存",
    ("provision", "--yes"): "从不询问",
    ("provision", "--json"): "以 JSON 输出登记信息",
    (
        "selftest",
        DESCRIPTION,
    ): "检查每项已配置的功能；请先停止守护进程（它占用传感器和摄像头）。以 root 运行才能读取 MQTT "
    "凭据。退出码：0 全部通过，1 有检查失败，78 配置错误，75 守护进程正在运行。",
    (
        "selftest",
        "--credentials",
    ): "不由 systemd 运行时的凭据目录（默认 /etc/zonegate/credentials）",
    (
        "selftest",
        "--gas-seconds",
    ): "监视气体传感器的时长；每个读数都按报警值判定",
    ("selftest", "--gps-seconds"): "等待稳定定位的时长",
    ("selftest", "--broker-seconds"): "等待 MQTT 服务器的时长",
    ("selftest", "--tap-seconds"): "等待刷卡的时长",
    ("selftest", "--unattended"): "终端前无人：不做刷卡测试，不询问测试图案",
    (
        "import-roster",
        DESCRIPTION,
    ): "导入人员及其特种作业操作证。报告每一个错误行；除非 --partial，否则不写入任何内容。"
    "请先停止守护进程。"
    "退出码：0 全部导入，1 有错误行（未写入），6 --partial 已导入无误的人员并拒绝了部分行，"
    "65 文件无法使用，66 文件无法读取，75 守护进程正在运行，78 配置错误。",
    (
        "import-roster",
        "file",
    ): "名单 .csv（UTF-8、GBK 或 Big5）、.xlsx 或 .xls（第一个工作表）",
    (
        "import-roster",
        "--partial",
    ): "导入各行均无误的人员（有错误行时退出码 6）",
    ("import-roster", "--badges"): "第二个表格，为人员绑定卡号（列 工号 和 卡号）",
    ("import-roster", "--dry-run"): "只检查文件，不写入",
    ("import-roster", "--columns"): "输出可用的列名和作业类别目录，然后退出",
    (
        "roster",
        DESCRIPTION,
    ): "登记库中的人员（只读；守护进程运行时也可用）。退出码 0；给出的工号不在名单上时为 1；"
    "登记库无法读取时为 74。",
    ("roster", "worker_ids"): "只显示这些人员",
    ("permit list", LISTED): "每张作业票及其状态",
    ("permit show", LISTED): "一张作业票",
    ("logs", DESCRIPTION): "显示并跟踪守护进程日志。没有 journald 时退出码 69。",
    ("logs", "--lines"): "历史行数（默认 50）",
    ("logs", "--no-follow"): "输出后退出",
    ("logs", "--since"): "journalctl --since，例如 '1 hour ago' 或 2026-03-01",
    (
        "logs",
        "--config",
    ): "网关配置 YAML（只读取其语言）（默认 /etc/zonegate/gateway.yaml）",
    (
        "bind-badges",
        DESCRIPTION,
    ): "为每名没有卡的人员（或每个 --worker）在终端读卡器上刷卡。退出码：0 全部绑定，1 有跳过，"
    "65 未知人员，69 没有读卡器，75 守护进程正在运行，78 配置错误。",
    ("bind-badges", "--worker"): "只处理这些人员（可重复）",
    ("bind-badges", "--timeout"): "每次等待刷卡的秒数",
}


def help_key(action: argparse.Action) -> str:
    """The option part of an action's key: its longest option string, or a positional's dest."""
    return max(action.option_strings, key=len) if action.option_strings else action.dest


def texts(parser: argparse.ArgumentParser, command: str = TOP) -> Iterator[tuple[str, str, Any]]:
    """Every English text of ``parser``'s tree that has a zh-CN counterpart, as ``(command,
    option, holder)``: ``holder`` is the parser (for DESCRIPTION) or the action whose ``.help``
    is shown. argparse's own help/version lines and texts left ``None`` are not listed."""
    if parser.description:
        yield command, DESCRIPTION, parser
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                if listed.help is not None:
                    yield f"{command} {listed.dest}".strip(), LISTED, listed
            for name, sub in action.choices.items():
                yield from texts(sub, f"{command} {name}".strip())
        elif action.help is not None and action.help != argparse.SUPPRESS:
            yield command, help_key(action), action


def english_of(holder: Any, option: str) -> str:
    """The English text a ``texts`` entry shows."""
    return str(holder.description if option == DESCRIPTION else holder.help)


def chinese_for(command: str, option: str, english: str) -> str | None:
    """The zh-CN for one text: ``ZH_HELP[(command, option)]``, else the shared entry for the
    same option with the same English, else None (missing)."""
    return ZH_HELP.get((command, option)) or ZH_SHARED.get((option, english))


def missing(parser: argparse.ArgumentParser) -> list[str]:
    """``command option: English`` for each text of ``parser`` without zh-CN (should be [])."""
    return [
        f"{command or 'zonegate'} {option}: {english_of(holder, option)}"
        for command, option, holder in texts(parser)
        if chinese_for(command, option, english_of(holder, option)) is None
    ]


# argparse's own messages (Python 3.11 argparse.py msgids) -> zh-CN. Applied in order to the
# message ``error`` receives; "argument X: ..." wraps another message, translated in turn.
_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), zh)
    for pattern, zh in (
        (r"^argument (?P<a>.+?): (?P<rest>.*)$", "参数 {a}：{rest}"),
        (r"^the following arguments are required: (?P<x>.*)$", "缺少以下参数：{x}"),
        (r"^one of the arguments (?P<x>.*) is required$", "必须给出以下参数之一：{x}"),
        (r"^unrecognized arguments: (?P<x>.*)$", "无法识别的参数：{x}"),
        (
            r"^invalid choice: (?P<v>.*) \(choose from (?P<c>.*)\)$",
            "无效的选项：{v}（可选：{c}）",
        ),
        (r"^invalid (?P<t>\S+) value: (?P<v>.*)$", "无效的 {t} 值：{v}"),
        (r"^not allowed with argument (?P<x>.*)$", "不能与参数 {x} 同时使用"),
        (r"^expected one argument$", "需要一个值"),
        (r"^expected at most one argument$", "最多只能有一个值"),
        (r"^expected at least one argument$", "至少需要一个值"),
        (r"^expected (?P<n>\d+) arguments?$", "需要 {n} 个值"),
        (r"^ambiguous option: (?P<o>.*) could match (?P<m>.*)$", "有歧义的选项：{o} 可以是 {m}"),
        (r"^ignored explicit argument (?P<x>.*)$", "忽略了显式给出的值 {x}"),
        (r"^can't open '(?P<f>.*)': (?P<e>.*)$", "无法打开 '{f}'：{e}"),
    )
)


def argparse_message_zh(message: str) -> str:
    """An argparse error message in zh-CN; a message it does not know is returned unchanged."""
    for pattern, zh in _ARGPARSE_MESSAGES:
        m = pattern.match(message)
        if m:
            parts = m.groupdict()
            if "rest" in parts:
                parts["rest"] = argparse_message_zh(parts["rest"])
            return zh.format(**parts)
    return message


class ZhHelpFormatter(argparse.HelpFormatter):
    """``HelpFormatter`` that starts the usage line with ``用法：`` instead of ``usage: ``."""

    def add_usage(
        self,
        usage: str | None,
        actions: Any,
        groups: Any,
        prefix: str | None = None,
    ) -> None:
        """As ``HelpFormatter.add_usage``; ``prefix`` None means ``用法：``."""
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ZonegateParser(argparse.ArgumentParser):
    """The ``zonegate`` parser class (its subcommands' parsers are made of the same class by
    ``add_subparsers``). ``lang`` (set by ``localize``) chooses the words of ``error``."""

    lang: Lang = Lang.EN

    def error(self, message: str) -> NoReturn:
        """Usage and ``prog: error: message`` on stderr, exit 2 (as argparse), in ``lang``."""
        if self.lang == Lang.EN:
            super().error(message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：错误：{argparse_message_zh(message)}\n")


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def localize(parser: argparse.ArgumentParser, lang: Lang) -> None:
    """Make ``parser``'s whole tree speak ``lang``: for zh-CN, each help and description from
    the catalogue (a text without an entry stays English), argparse's section titles, help and
    version lines, usage prefix and errors. English leaves the texts as written."""
    for p in _parsers(parser):
        if isinstance(p, ZonegateParser):
            p.lang = lang
    if lang == Lang.EN:
        return
    for command, option, holder in list(texts(parser)):
        zh = chinese_for(command, option, english_of(holder, option))
        if zh is None:
            continue
        if option == DESCRIPTION:
            holder.description = zh
        else:
            holder.help = zh
    for p in _parsers(parser):
        p._positionals.title = "位置参数"
        p._optionals.title = "选项"
        base = p.formatter_class
        if isinstance(base, type) and not issubclass(base, ZhHelpFormatter):
            # Keep a module's own formatter (e.g. RawDescriptionHelpFormatter) and add the prefix.
            zh_class: Any = type(f"Zh{base.__name__}", (ZhHelpFormatter, base), {})
            p.formatter_class = zh_class
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = "显示此帮助信息并退出"
            elif isinstance(action, argparse._VersionAction):
                action.help = "显示程序版本号并退出"


def peek_lang(argv: Sequence[str], default_config: Path) -> Lang:
    """The language for help and usage errors, decided before parsing: ``--lang`` anywhere in
    ``argv`` (before or after the subcommand; the last one wins, an unknown value is left for
    argparse to refuse), else ``device.language`` of the ``-c/--config`` file, or of
    ``default_config`` when it exists, else zh-CN (``gateway.phrasebook.pick_lang``)."""
    from gateway.phrasebook import pick_lang

    flag: str | None = None
    config: Path | None = None
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        nxt = args[i + 1] if i + 1 < len(args) else None
        if arg == "--lang" and nxt is not None:
            flag = nxt
        elif arg.startswith("--lang="):
            flag = arg.split("=", 1)[1]
        elif arg in ("-c", "--config") and nxt is not None:
            config = Path(nxt)
        elif arg.startswith("--config="):
            config = Path(arg.split("=", 1)[1])
        elif arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            config = Path(arg[2:])
    if flag not in {lang.value for lang in Lang}:
        flag = None
    if config is None and default_config.exists():
        config = default_config
    return pick_lang(flag, config)
