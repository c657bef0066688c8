"""Answers kept for questions asked again: residents ask the same few things in the same words
("phường Thượng Đình giờ là phường gì"), and an answer depends only on the index version, the
normalised question, the filters and — for a short follow-up — the previous question.

Bounded (least recently used first out); a new index version makes old entries unreachable.
Hits, misses and the answering time saved are on /metrics.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from prometheus_client import Counter

from bot.answer.models import Answer

LOOKUPS = Counter("sapxep_answer_cache_total", "Tra bộ nhớ đệm câu trả lời", ["result"])
SAVED = Counter(
    "sapxep_answer_cache_saved_seconds_total", "Thời gian trả lời tiết kiệm nhờ bộ nhớ đệm"
)
SIZE = 4096

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Entry:
    answer: Answer
    remembered: tuple[str, str] | None  # (question as understood, mode) kept for follow-ups
    seconds: float


class AnswerCache:
    def __init__(self, size: int = SIZE):
        self.size = size
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        LOOKUPS.labels("hit" if entry else "miss").inc()
        if entry is not None:
            SAVED.inc(entry.seconds)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
