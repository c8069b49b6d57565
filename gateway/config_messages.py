"""What a config error says, in zh-CN and English, from a pydantic error.

pydantic's own messages ("Input should be less than or equal to 0.6") are English only; a
technician reading zh-CN output (``device.language``, ``--lang``) gets the same fact in Chinese.
The table is keyed by pydantic's stable error *type* (``less_than_equal``, ``missing``, ...;
https://docs.pydantic.dev/2.14/errors/validation_errors/), whose ``ctx`` carries the bound or the
expected values. English keeps pydantic's message, which the tests and the README quote.

A ``value_error`` is one of the project's own validators (e.g. "co: a high (suspending) level is
required"). They raise ``firmware_adapters.bilingual.BilingualValueError``, which pydantic keeps
in ``ctx["error"]``: its own zh-CN and English are shown. A plain ``ValueError`` (a validator
not converted yet; tests/core/test_bilingual_validators.py lists them) keeps its English after a
Chinese lead-in rather than being guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firmware_adapters.bilingual import BilingualValueError

# type -> Chinese message; ``{name}`` placeholders are filled from the error's ``ctx``.
ZH_BY_TYPE: dict[str, str] = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的键",
    "less_than_equal": "应小于或等于 {le}",
    "less_than": "应小于 {lt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "greater_than": "应大于 {gt}",
    "multiple_of": "应为 {multiple_of} 的整数倍",
    "finite_number": "应为有限的数字（不能是 .inf 或 .nan）",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数（不能有小数部分）",
    "int_parsing_size": "整数超出范围",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文本",
    "string_too_short": "至少应有 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符（应匹配 {pattern}）",
    "too_short": "至少应有 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "model_attributes_type": "应为映射（键: 值）",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "set_type": "应为列表",
    "path_type": "应为文件路径",
    "date_parsing": "应为日期（如 2024-03-01）",
    "date_from_datetime_parsing": "应为日期（如 2024-03-01）",
    "datetime_parsing": "应为日期时间（如 2024-03-01T08:00:00+08:00）",
    "datetime_from_date_parsing": "应为日期时间（如 2024-03-01T08:00:00+08:00）",
    "time_parsing": "应为时间（如 08:00）",
    "timezone_aware": "应带时区（如 +08:00）",
    "url_parsing": "应为网址",
    "url_scheme": "网址的协议应为 {expected_schemes}",
    "ip_v4_address": "应为 IPv4 地址",
    "ip_any_address": "应为 IP 地址",
    "none_required": "应为空",
    "frozen_instance": "不可修改",
}


def _fill(template: str, ctx: Mapping[str, Any]) -> str:
    if isinstance(ctx.get("expected"), str):
        # pydantic lists choices as "'a', 'b' or 'c'": a Chinese list takes 、 throughout.
        ctx = {**ctx, "expected": ctx["expected"].replace(" or ", "、").replace(", ", "、")}
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        # A pydantic release may rename a ctx key: say the fact without the number rather
        # than fail the whole report.
        return template.split("{", 1)[0].rstrip("（ ：") or template


def got_suffix(value: Any) -> tuple[str, str]:
    """``(zh, en)`` of the " (got 'x')" tail that shows what the file held (80 characters)."""
    shown = repr(value)
    shown = f"{shown[:80]}{'...' if len(shown) > 80 else ''}"
    return f"（实际为 {shown}）", f" (got {shown})"


def pydantic_message(error: Mapping[str, Any]) -> tuple[str, str]:
    """``(zh, en)`` for one entry of ``ValidationError.errors()``.

    ``error`` has pydantic's keys: ``type``, ``msg``, optional ``ctx`` and ``input``. The
    English is pydantic's ``msg`` (a validator's own text for ``value_error``); the Chinese comes
    from ``ZH_BY_TYPE``, or, for a type not in it, a Chinese lead-in before the English. A
    ``value_error`` whose ``ctx["error"]`` is a ``BilingualValueError`` gives its own pair.
    """
    kind = str(error["type"])
    en = str(error["msg"])
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    raised = ctx.get("error")
    if kind == "value_error" and isinstance(raised, BilingualValueError):
        return raised.zh, raised.en
    if kind in ("value_error", "assertion_error"):
        en = en.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"取值无效：{en}", en
    template = ZH_BY_TYPE.get(kind)
    zh = _fill(template, ctx) if template is not None else f"取值无效（{en}）"
    return zh, en
