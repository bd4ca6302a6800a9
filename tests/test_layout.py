"""The package's rooms import only down the stages (the README's Layout section draws them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "claude_perf"
# Highest first: a module may import its own room and any room after its own.
ROOMS = (
    "__main__",
    "cli",
    "ci",
    "report",
    "analysis",
    "parse",
    "load",
    "collect",
    "store",
    "ingest",
    "config",
    "durations",
    "secrets",
    "runtime",
    "errors",
)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "claude_perf" or len(parts) < 2:
        return None
    return parts[1]


def imports_of(path: Path) -> list[str]:
    """Every claude_perf module the file imports, at any depth (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [m for m in found if m.startswith("claude_perf.")]


def test_imports_only_go_down_the_stages():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = room_of("claude_perf." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if here not in ROOMS:
            continue
        for module in imports_of(path):
            there = room_of(module)
            if there in ROOMS and ROOMS.index(there) < ROOMS.index(here):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_every_room_is_named_in_the_order():
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    rooms |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert rooms - {"dialects", "templates"} == set(ROOMS)


def test_no_module_is_over_about_500_lines():
    # bundle.py holds one format's reader and writer together (523 lines with its clients.jsonl):
    # a documented exception, bounded on its own so that it cannot grow unnoticed.
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines()))
        > (530 if p.name == "bundle.py" else 520)
    }
    assert long == {}


def test_the_readme_lists_every_built_in_dialect_as_its_file_says():
    from claude_perf.config.load import builtin_dialects

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    for d in builtin_dialects():
        assert f"| `{d.name}` | {d.proxy} | {d.tells} | {d.cannot} |" in readme, d.name
