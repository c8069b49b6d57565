"""What the technician commands print, in zh-CN (default) and English.

The same pattern as ``edge.reasons`` for workers: a stable key, the Chinese and the English
words, ``{placeholders}`` filled by ``say``. The language is ``--lang`` if given, else the
config's ``device.language``, else zh-CN (``pick_lang``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from edge.reasons import Lang

PHRASES: dict[str, tuple[str, str]] = {
    # import-roster
    "roster.title_rows": (
        "已忽略表头上方的标题行 {rows}，表头在第 {header} 行",
        "ignored title row(s) {rows} above the header on row {header}",
    ),
    "roster.footer_rows": ("已忽略表尾行 {rows}（制表人、审核等）", "ignored footer row(s) {rows}"),
    "roster.ignored_columns": (
        "未识别的列已忽略：{cols}（可用列名见 zonegate import-roster --columns）",
        "ignored columns: {cols} (accepted headers: zonegate import-roster --columns)",
    ),
    "roster.encoding": ("文件编码：{enc}", "file encoding: {enc}"),
    "roster.bad_rows": ("错误行（{n}）", "Bad rows ({n})"),
    "roster.col.row": ("行", "row"),
    "roster.col.worker": ("工号", "worker"),
    "roster.col.name": ("姓名", "name"),
    "roster.col.problem": ("问题", "problem"),
    "roster.col.reason": ("原因", "reason"),
    "roster.col.certificate": ("证号", "certificate"),
    "roster.col.category": ("作业类别", "category"),
    "roster.col.due": ("到期事项", "due"),
    "roster.col.date": ("日期", "date"),
    "roster.col.days": ("剩余天数", "days"),
    "roster.due.expired": ("已过期", "expired"),
    "roster.due.expires": ("即将到期", "expires"),
    "roster.due.review": ("需复审", "review due"),
    "roster.expiring": (
        "已过期及 {days} 天内到期/需复审的证书",
        "Certificates expired, or expiring / due for review within {days} days",
    ),
    "roster.expired_note": (
        "证书已过期的人员已导入：刷卡时将以“证书已过期”拒绝入场，请尽快换证",
        "workers with expired certificates were imported: the gate denies them with "
        "CERT_EXPIRED until a renewed certificate is imported",
    ),
    "roster.expired_note_unwritten": (
        "证书已过期的人员本次未导入（未写入任何人员）；导入后刷卡时将以“证书已过期”拒绝入场",
        "workers with expired certificates were not imported (nothing was written); once "
        "imported, the gate denies them CERT_EXPIRED until a renewed certificate is imported",
    ),
    "roster.valid_values": (
        "可用的作业类别与操作项目（特种作业目录）：",
        "Valid categories and operation items (特种作业目录):",
    ),
    "roster.imported": (
        "已导入 {workers} 名人员、{certs} 个证书（共 {rows} 行）",
        "imported {workers} worker(s), {certs} certificate(s) from {rows} row(s)",
    ),
    "roster.skipped": ("未导入的人员：{ids}", "skipped: {ids}"),
    "roster.dry_run": (
        "试运行：将导入 {n} 名人员（未写入）",
        "dry run: {n} worker(s) would be imported",
    ),
    "roster.nothing_imported": (
        "未导入任何人员：请修正以上各行，或用 --partial 导入各行均无误的人员",
        "nothing imported: fix the rows above, or use --partial to import the workers whose "
        "rows are all good",
    ),
    "roster.nothing": ("没有可导入的人员", "nothing to import"),
    "roster.no_badge_column": (
        "注意：名单中没有卡号列，{n} 名人员无法刷卡入场。绑定卡号的方法："
        "在名单中加“卡号”列；或 --badges 卡号文件（工号,卡号 两列）；"
        "或在终端刷卡绑定：zonegate bind-badges",
        "warning: the roster has no badge column; {n} worker(s) cannot badge in. Bind cards "
        "with a 卡号/badge_ids column, a second file (--badges FILE with worker_id,badge_ids), "
        "or by tapping cards: zonegate bind-badges",
    ),
    "roster.kept_badges": (
        "{n} 名人员在名单中没有卡号：保留其已绑定的卡号",
        "{n} worker(s) have no card in the sheet: their cards already bound are kept",
    ),
    "roster.kept_roles": (
        "名单中没有“站点角色”列：保留 {n} 名人员原有的站点角色（安全员、分析人）",
        "the sheet has no site_roles column: {n} worker(s) keep their site roles "
        "(safety officer, analyst)",
    ),
    "roster.no_badge_workers": (
        "注意：{n} 名人员没有卡号：{ids}",
        "warning: {n} worker(s) have no badge: {ids}",
    ),
    "roster.file_required": (
        "import-roster：请给出名单文件（.csv / .xlsx / .xls）",
        "import-roster: FILE is required (.csv / .xlsx / .xls)",
    ),
    "roster.file_error": ("{file}：{msg}", "{file}: {msg}"),
    "roster.daemon_running": (
        "zonegate 正在运行（状态目录 {state}），登记库不能同时写入；"
        "请先停止：sudo systemctl stop zonegate",
        "zonegate is running (state directory {state}); the registry cannot be written by "
        "two processes, so stop it first: sudo systemctl stop zonegate",
    ),
    # provision
    "provision.wrote": ("已写入 {path}", "wrote {path}"),
    "provision.credentials": (
        "凭据在 {path}（zonegate.service 的 LoadCredential=）",
        "credentials in {path} (LoadCredential= in zonegate.service)",
    ),
    "provision.sealed": (
        "已用 systemd-creds 封存（--with-key={mode}）：{names}；磁盘上不留明文",
        "sealed with systemd-creds (--with-key={mode}): {names}; no plaintext left on disk",
    ),
    "provision.dropin": (
        "服务通过 {path} 加载（LoadCredentialEncrypted=）；请执行 systemctl daemon-reload",
        "the service loads them through {path} (LoadCredentialEncrypted=); run "
        "systemctl daemon-reload",
    ),
    "provision.sealed_here": (
        "注意：以本机的密钥封存，只有本机能解封；为另一台设备制作镜像时，请在该设备上封存",
        "note: sealed with this machine's key, only this machine can unseal them; for an "
        "image meant for another device, seal on that device",
    ),
    "provision.register": ("在中心端登记：", "Register on the central side:"),
    "provision.key_id": ("设备密钥编号：{id}（{kept}）", "device key id: {id} ({kept})"),
    "provision.key_kept": (
        "沿用原密钥，中心端无需重新登记",
        "kept: already registered, nothing to do on central",
    ),
    "provision.key_new": ("新密钥，需在中心端登记", "new: register it on central"),
    "provision.public_key": ("设备公钥（{path}）：", "device public key ({path}):"),
    "provision.broker_account": (
        "MQTT 账号：用户 {user}，密码为此处给出的密码（在服务器上用 mosquitto_passwd 添加）；"
        "ACL 中的 %u 即此用户",
        "broker account: user {user} with the password given here (mosquitto_passwd on the "
        "broker); the ACL patterns use %u = this user",
    ),
    "provision.next": ("下一步：{check}；{selftest}", "next: {check}; {selftest}"),
    # shared: check-config and every command's config check
    "config.error_count": ("{file} 中有 {n} 处错误", "{n} error(s) in {file}"),
    "config.warning": ("{file}：注意：{msg}", "{file}: warning: {msg}"),
    "config.ok": (
        "{file}：配置无误（设备 {device}，区域 {zone}）",
        "{file}: OK (device {device}, zone {zone})",
    ),
    "config.given_twice": (
        "check-config：配置文件只需给出一次：-c FILE 或 FILE",
        "check-config: give the file once, as -c FILE or as FILE",
    ),
    # import-roster: the 3-yearly review (issue 13 #29)
    "roster.due.review_overdue": ("逾期未复审", "review overdue"),
    "roster.review_derived": (
        "带 * 的复审日期：名单没有“复审日期”列/值，按发证日期 + 3 年推算（令第30号第二十一条，"
        "与门禁判定相同）",
        "review dates marked *: the sheet has no 复审日期 (next review), taken as valid_from + "
        "3 years (令第30号 Art. 21), as the gate judges it",
    ),
    "roster.review_overdue_note": (
        "逾期未复审的人员刷卡时将以“特种作业操作证逾期未复审”拒绝入场：请复审后重新导入（含复审日期）",
        "workers whose review is overdue are denied at the gate with CERT_REVIEW_OVERDUE: "
        "import them again with the review date once reviewed",
    ),
    # import-roster: a re-import changes existing workers (issue 13 #15, #20b)
    "roster.updated": (
        "已更新名单中已有的 {n} 名人员（以本表为准，旧的姓名/证书被替换）：",
        "updated {n} worker(s) already on the roster (this sheet replaces name / certificates):",
    ),
    "roster.updated_unwritten": (
        "导入后将更新名单中已有的 {n} 名人员（本次未写入）：",
        "{n} worker(s) already on the roster would be updated (nothing written):",
    ),
    "roster.upd.name": ("姓名 {old} -> {new}", "name {old} -> {new}"),
    "roster.upd.certs_removed": ("删除证书 {certs}", "certificates removed: {certs}"),
    "roster.upd.certs_added": ("新增证书 {certs}", "certificates added: {certs}"),
    "roster.upd.badges": ("卡号 {old} -> {new}", "cards {old} -> {new}"),
    "roster.badge_file_unknown": (
        "注意：卡号文件中有 {n} 个工号不在本名单中，其卡号未绑定：{ids}",
        "warning: {n} worker id(s) in the badge file are not in this roster; their cards "
        "were not bound: {ids}",
    ),
}


def say(key: str, lang: Lang | str, **values: object) -> str:
    """The phrase ``key`` in ``lang`` with its placeholders filled."""
    zh, en = PHRASES[key]
    return (en if str(lang) == Lang.EN.value else zh).format(**values)


def pick_lang(flag: str | None, config: Path | None) -> Lang:
    """``--lang`` if given, else the config's ``device.language`` (read leniently: a broken
    config still gets its errors in the language it asks for), else zh-CN."""
    if flag:
        return Lang(flag)
    if config is not None:
        try:
            doc = yaml.safe_load(config.read_text(encoding="utf-8"))
            value = doc["device"]["language"]
            return Lang(value)
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
            pass
    return Lang.ZH


def add_lang_arg(parser: argparse.ArgumentParser) -> None:
    """``--lang zh-CN|en`` on a subcommand (default: the config's language)."""
    parser.add_argument(
        "--lang",
        choices=[lang.value for lang in Lang],
        default=None,
        help="output language (default: device.language of the config, else zh-CN)",
    )
