"""Shared fixtures: the real corpus beside the checkout, and one ingested index per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
EVAL = SHARED / "eval"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the corpus is expected at {CORPUS}"
    return CORPUS


@pytest.fixture(scope="session")
def index_root(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """The whole corpus ingested once, through the same code the CLI uses."""
    from index.build import update_index
    from index.store import IndexStore

    root = tmp_path_factory.mktemp("data") / "index"
    report = update_index(IndexStore(root), [corpus])
    assert not report.errors, report.errors
    return root


@pytest.fixture(scope="session")
def index(index_root: Path):
    from index.store import IndexStore

    return IndexStore(index_root).load()


@pytest.fixture(scope="session")
def registry(index):
    from index.registry import UnitRegistry

    changes = [u for f in index.files.values() for u in f.units]
    return UnitRegistry(changes, index.registry.provinces)
