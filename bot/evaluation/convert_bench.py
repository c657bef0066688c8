"""Address conversion side by side with the PyPI peer `vietnamadminunits` on the same rows:
the old units of the ward sets, written in full, abbreviated, without diacritics and with a
street in front. Scored on the exact set of new units (a split must name every part)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.answer.responder import Responder
from index.addresses import convert
from index.oldmap import OldMap
from index.registry import UnitRegistry
from ingest.text import fold

PEER = "vietnamadminunits"
_ABBREVIATIONS = (
    ("Thị trấn ", "TT. "), ("Thị xã ", "TX. "), ("Thành phố ", "TP. "), ("Phường ", "P. "),
    ("Xã ", "X. "), ("Huyện ", "H. "), ("Quận ", "Q. "), ("Tỉnh ", ""),
)  # fmt: skip
FORMS: dict[str, Callable[[str], str]] = {
    "đầy đủ": lambda a: a,
    "viết tắt": lambda a: _abbreviate(a),
    "không dấu": lambda a: fold(a),
    "có số nhà, đường": lambda a: f"số 12 đường Lê Lợi, {a}",
}


@dataclass
class Row:
    form: str
    address: str
    expected: frozenset[str]  # folded "xa binh hiep"


@dataclass
class ConvertScore:
    system: str
    rows: int
    exact: float  # share of rows with exactly the expected set of new units
    splits_named: float  # share of split rows (several new units) with every part named
    per_second: float


def _abbreviate(address: str) -> str:
    for full, short in _ABBREVIATIONS:
        address = re.sub(re.escape(full), short, address, flags=re.IGNORECASE)
    return address


def _key(unit: str) -> str:
    return " ".join(fold(unit).split())


def rows_of(items: list[dict[str, Any]]) -> list[Row]:
    """Every eval item with an `old_unit` and its `new_units`, in each written form."""
    out = []
    for item in items:
        if not item.get("old_unit") or not item.get("new_units"):
            continue
        expected = frozenset(_key(u) for u in item["new_units"])
        out.extend(Row(form, make(item["old_unit"]), expected) for form, make in FORMS.items())
    return out


def score(system: str, rows: list[Row], units_of: Callable[[str], set[str]]) -> ConvertScore:
    units_of(rows[0].address)  # warm-up
    started = time.perf_counter()
    found = [{_key(u) for u in units_of(r.address)} for r in rows]
    seconds = max(time.perf_counter() - started, 1e-9)
    splits = [(r, f) for r, f in zip(rows, found, strict=True) if len(r.expected) > 1]
    return ConvertScore(
        system=system,
        rows=len(rows),
        exact=sum(f == r.expected for r, f in zip(rows, found, strict=True)) / len(rows),
        splits_named=sum(r.expected <= f for r, f in splits) / len(splits) if splits else 0.0,
        per_second=len(rows) / seconds,
    )


def run(
    items: list[dict[str, Any]],
    registry: UnitRegistry,
    responder: Responder,
    oldmap: OldMap | None = None,
) -> list[ConvertScore]:
    """sapxep convert, the same rows asked in the chat, and the peer when it is installed."""
    rows = rows_of(items)
    if not rows:
        return []
    scores = [
        score("sapxep convert", rows, lambda a: set(convert(a, registry, oldmap).new_units)),
        score("sapxep (hỏi đáp)", rows, lambda a: _asked(responder, a)),
    ]
    try:
        from vietnamadminunits import convert_address
    except ImportError:
        return scores

    def peer(address: str) -> set[str]:
        try:
            return {convert_address(address).ward}
        except Exception:  # noqa: BLE001 — the peer raises on what it cannot read
            return set()

    scores.append(score(PEER, rows, peer))
    return scores


def _asked(responder: Responder, address: str) -> set[str]:
    kind = "phường" if re.match(r"(?i)p\.?\s|phường|phuong", address) else "xã"
    answer = responder.ask(f"{address} giờ là {kind} gì?")
    return {u for fact in answer.facts for u in fact.get("new_units", [])}
