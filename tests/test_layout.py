"""The folder tree is the architecture: data flows ingest → index → bot, and inside `bot/` the
answering core knows no channel, the state knows no channel, and no module grows past 450 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "index", "ingest", "prompts")
MAX_LINES = 450

# importer prefix -> module prefixes it must never import
FORBIDDEN = {
    "ingest": ("index", "bot"),
    "index": ("bot",),
    "prompts": ("ingest", "index", "bot"),
    "bot.answer": ("bot.channels", "bot.service", "bot.state", "bot.evaluation", "fastapi",
                   "starlette", "telegram"),
    "bot.state": ("bot.channels", "bot.service", "bot.answer", "fastapi", "telegram"),
    "bot.channels": ("bot.service", "bot.evaluation"),
    "bot.service": ("bot.evaluation",),
}  # fmt: skip


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_upstream(path: Path) -> None:
    name = module_name(path)
    wrong = sorted(
        target
        for importer, banned in FORBIDDEN.items()
        if under(name, importer)
        for target in imported(path)
        if any(under(target, b) for b in banned)
    )
    assert not wrong, f"{name} imports {wrong}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_short(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)}: {lines} lines"


def test_bot_top_level_holds_little_but_the_cli_and_configuration() -> None:
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py")
    assert top == ["cli.py", "config.py"]
    packages = sorted(p.parent.name for p in (ROOT / "bot").glob("*/__init__.py"))
    assert packages == ["answer", "channels", "evaluation", "service", "state"]
