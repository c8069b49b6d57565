"""Every message a validator raises is bilingual (issue 13: technician output in zh-CN).

pydantic keeps a validator's exception in ``errors()[i]["ctx"]["error"]``; check-config,
import-roster's bad-row table and the operator API show a ``BilingualValueError``'s own zh-CN,
but a plain ``ValueError`` only as English after a Chinese lead-in. This scan reads the source
(no import, no patching): every ``raise ValueError`` inside a pydantic validator, or inside a
function of the four packages a validator calls (directly or through others, e.g.
``GasConfig._merge_floors`` -> ``merge_entry`` -> ``tighten``), is listed with its file:line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("firmware_adapters", "edge", "cloud_sync", "gateway")
VALIDATORS = frozenset({"field_validator", "model_validator", "validator", "root_validator"})


@dataclass
class _Module:
    name: str
    path: Path
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    validators: list[ast.FunctionDef] = field(default_factory=list)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)  # local -> (module, name)


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _read(name: str, path: Path, source: str) -> _Module:
    mod = _Module(name, path)
    tree = ast.parse(source, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PACKAGES:
                for alias in node.names:
                    mod.imported[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.FunctionDef):
            if any(_decorator_name(d) in VALIDATORS for d in node.decorator_list):
                mod.validators.append(node)
            elif node.col_offset == 0:
                mod.functions[node.name] = node  # module-level helpers validators may call
    return mod


def _plain_value_errors(fn: ast.FunctionDef) -> list[int]:
    lines = []
    for node in ast.walk(fn):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id == "ValueError":
            lines.append(node.lineno)
    return lines


def _called_names(fn: ast.FunctionDef) -> set[str]:
    return {
        n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def unconverted(modules: dict[str, _Module]) -> list[str]:
    """``file:line`` of each plain ``raise ValueError`` a validator can reach."""
    found: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[_Module, ast.FunctionDef]] = [
        (m, v) for m in modules.values() for v in m.validators
    ]
    while todo:
        mod, fn = todo.pop()
        found.update(f"{mod.path}:{line}" for line in _plain_value_errors(fn))
        for name in _called_names(fn):
            where, real = mod.imported.get(name, (mod.name, name))
            target = modules.get(where)
            if target is None or real not in target.functions or (where, real) in seen:
                continue
            seen.add((where, real))
            todo.append((target, target.functions[real]))
    return sorted(found)


def _project() -> dict[str, _Module]:
    modules = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = path.relative_to(REPO)
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            modules[name] = _read(name, rel, path.read_text(encoding="utf-8"))
    return modules


def test_no_validator_raises_an_english_only_value_error() -> None:
    modules = _project()
    # The scan sees the validators (26 of them when this was written).
    assert sum(len(m.validators) for m in modules.values()) >= 25
    left = unconverted(modules)
    assert not left, (
        "raise firmware_adapters.bilingual.BilingualValueError(en, zh) instead of ValueError "
        "(a technician reads it in zh-CN):\n" + "\n".join(left)
    )


def test_the_scan_finds_a_plain_value_error_in_a_validator_and_in_what_it_calls() -> None:
    # The guard itself can fail: a validator's own raise, one two calls away in another module,
    # and a bilingual one (not listed).
    checks = _read(
        "edge.checks",
        Path("edge/checks.py"),
        "from pydantic import model_validator\n"
        "from edge.levels import merge\n"
        "class C:\n"
        "    @model_validator(mode='after')\n"
        "    def _v(self):\n"
        "        if self.x:\n"
        "            raise ValueError('x')\n"
        "        merge(self)\n"
        "        raise BilingualValueError('y', '乙')\n",
    )
    levels = _read(
        "edge.levels",
        Path("edge/levels.py"),
        "def merge(v):\n    return tighten(v)\n\n"
        "def tighten(v):\n    raise ValueError('too loose')\n\n"
        "def unrelated():\n    raise ValueError('never reached from a validator')\n",
    )
    assert unconverted({"edge.checks": checks, "edge.levels": levels}) == [
        "edge/checks.py:7",
        "edge/levels.py:5",
    ]
