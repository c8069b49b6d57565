"""Writing a config over its template's text, so the template's comments survive.

PyYAML drops comments on load; rewriting a template through it would leave the technician a
config without the explanations the example file carries. Here only the mapping entries whose
value changed are re-dumped (recursing into block mappings), every other line (comments
included) is kept as written, and the result is checked to load back to exactly the intended
document; when it would not, ``None`` tells the caller to fall back to a plain dump.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#'\"][^:#]*?|'[^']*'|\"[^\"]*\"):(?P<rest>\s.*|)$")


def _dump(key: str, value: Any, indent: int, comment: str = "", column: int = 0) -> list[str]:
    text = yaml.safe_dump(
        {key: value}, allow_unicode=True, sort_keys=False, default_flow_style=False
    ).rstrip("\n")
    lines = [" " * indent + line for line in text.splitlines()]
    if comment and len(lines) == 1:
        # The comment stays in its column, as the template aligned it.
        lines[0] = lines[0].ljust(column - 1) + " " + comment
    return lines


def _is_filler(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


def _keys_at(lines: list[str], indent: int) -> list[tuple[int, str, str]]:
    out = []
    for i, line in enumerate(lines):
        m = _KEY.match(line)
        if m and len(m["indent"]) == indent:
            out.append((i, m["key"].strip("'\""), m["rest"]))
    return out


def _merge(lines: list[str], old: dict[str, Any], new: dict[str, Any], indent: int) -> list[str]:
    keys = _keys_at(lines, indent)
    if [k for _, k, _ in keys] != list(old):
        raise ValueError("template layout not understood")
    out: list[str] = lines[: keys[0][0]] if keys else list(lines)
    tail: list[str] = []
    for n, (start, key, rest) in enumerate(keys):
        end = keys[n + 1][0] if n + 1 < len(keys) else len(lines)
        block = lines[start:end]
        # Comment and blank lines before the next key belong to that key: keep them after.
        trailing: list[str] = []
        while len(block) > 1 and _is_filler(block[-1]):
            trailing.insert(0, block.pop())
        if n + 1 == len(keys):
            tail, trailing = trailing, []
        if key not in new:
            out.extend(trailing)
            continue
        value = new[key]
        if value == old[key]:
            out.extend(block)
        elif (
            isinstance(value, dict)
            and isinstance(old[key], dict)
            and old[key]
            and rest.strip().startswith("#") | (rest.strip() == "")
            and len(block) > 1
        ):
            child = next((len(m["indent"]) for line in block[1:] if (m := _KEY.match(line))), None)
            if child is None or child <= indent:
                raise ValueError("template layout not understood")
            out.append(block[0])
            out.extend(_merge(block[1:], old[key], value, child))
        else:
            comment = rest.strip() if rest.strip().startswith("#") else ""
            if "#" in rest and not comment:
                comment = "#" + rest.split("#", 1)[1]
            column = block[0].find("#", block[0].index(":")) if comment else 0
            out.extend(
                _dump(key, value, indent, comment if not isinstance(value, dict) else "", column)
            )
        out.extend(trailing)
    for key, value in new.items():
        if key not in old:
            out.extend(_dump(key, value, indent))
    out.extend(tail)
    return out


def render_over_template(template_text: str, doc: dict[str, Any]) -> str | None:
    """``template_text`` with ``doc``'s values, comments kept; None if that cannot be exact."""
    try:
        old = yaml.safe_load(template_text)
        if not isinstance(old, dict):
            return None
        merged = "\n".join(_merge(template_text.splitlines(), old, doc, 0)) + "\n"
        if yaml.safe_load(merged) != doc:
            return None
    except (ValueError, yaml.YAMLError):
        return None
    return merged
