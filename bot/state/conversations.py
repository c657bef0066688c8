"""Conversation memory: the last turn of each conversation, so follow-ups keep their context."""

from __future__ import annotations

from bot.state.database import Database


class Conversations(Database):
    def last_turn(self, conversation: str) -> tuple[str, str] | None:
        """(question, mode) of the conversation's last turn, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT question, mode FROM turns WHERE conversation = ?",
                (self._hash("conversation", conversation),),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_turn(self, conversation: str, question: str, mode: str) -> None:
        """Replace the conversation's last turn."""
        with self._write() as db:
            db.execute(
                "INSERT INTO turns (conversation, question, mode, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation) DO UPDATE SET "
                "question = excluded.question, mode = excluded.mode, at = excluded.at",
                (self._hash("conversation", conversation), question, mode, self._now()),
            )
