"""Channel token sets (Zalo's access and refresh tokens), replaced whole."""

from __future__ import annotations

import json

from bot.state.database import Database


class TokenStore(Database):
    def tokens(self, name: str) -> dict[str, str] | None:
        """The token set saved under `name`, or None."""
        with self._lock:
            row = self._db.execute("SELECT data FROM tokens WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_tokens(self, name: str, tokens: dict[str, str]) -> None:
        """Replace the whole token set in one transaction, so an access token and the refresh
        token that came with it are never split."""
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()):
            raise TypeError("tokens must map str to str")
        with self._write(durable=True) as db:
            db.execute(
                "INSERT INTO tokens (name, data, at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET data = excluded.data, at = excluded.at",
                (name, json.dumps(tokens, ensure_ascii=False), self._now()),
            )
