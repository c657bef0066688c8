"""What the service must not lose, and what every worker and instance shares.

`contract.SharedState` is the part several instances must agree on (deliveries, rate limits,
conversations, tokens, the salt); `sqlite.StateStore` implements it for one machine and
`redis_store.RedisState` for many. What officials read — the question log, feedback and
statistics — is in one SQL database for all instances (`questionlog.QuestionLog`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.state.contract import SharedState
from bot.state.questionlog import QuestionLog
from bot.state.sqlite import StateStore


@dataclass
class State:
    """Where the service keeps what it must not lose: `store` (this machine's SQLite), `shared`
    (what every worker and instance agrees on: the store itself, or Redis) and `log` (the
    question log, feedback and statistics, in the SQL database)."""

    store: StateStore
    shared: SharedState
    log: QuestionLog

    def close(self) -> None:
        if self.shared is not self.store:
            self.shared.close()
        self.store.close()
        self.log.close()


def open_state(settings: Settings) -> State:
    """The SQLite store, and Redis when SAPXEP_REDIS_URL is set. The salt of user hashes is made
    once per data directory; with Redis the first instance's salt is everybody's."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    salt = _salt(settings.data_dir / "salt")
    log = QuestionLog(settings.database_url or f"sqlite:///{settings.data_dir / 'questions.sqlite3'}")
    if not settings.redis_url:
        store = StateStore(settings.data_dir / "state.sqlite3", salt=salt)
        return State(store, store, log)
    from bot.state.redis_store import RedisState, connect

    shared = RedisState(connect(settings.redis_url), salt=salt)
    return State(StateStore(settings.data_dir / "state.sqlite3", salt=shared.salt), shared, log)


def _salt(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_hex(16), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
