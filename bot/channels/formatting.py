"""Channel-independent rendering of an Answer: message splitting, Telegram HTML, plain text, and
the next questions an answer suggests."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answer.models import Answer, Citation
from prompts import template

# Split points, best first: paragraph, line, sentence, word. The number is how many characters
# of the separator stay with the piece before the cut (the sentence's punctuation).
_BOUNDARIES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("\n\n",), 0),
    (("\n",), 0),
    ((". ", "? ", "! ", "; "), 1),
    ((" ",), 0),
)
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
DEFAULT_SOURCES = 3
SOURCES_HEADER = "Nguồn:"
# Telegram counts the characters of the text after parsing the HTML; the HTML is never shorter.
TELEGRAM_LIMIT = 4096
LABEL_CHARS = 20  # a suggestion's button label (Messenger's limit for a quick reply)
MAX_SUGGESTIONS = 3
_KIND = re.compile(r"^(?:Thành phố|Tỉnh|Phường|Xã|Đặc khu|Thị trấn)\s+")


def split_message(text: str, limit: int, *, length: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into pieces of at most `limit` (as measured by `length`), in order.

    Cuts fall at the last paragraph break that fits, else line break, else sentence end
    (". ", "? ", "! ", "; "), else space; a word is cut only when it alone exceeds the limit.
    The whitespace at each cut is dropped and no piece is empty. `length` must grow with the
    text (e.g. the length once HTML-escaped); a single character over the limit is kept whole.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if length(rest) <= limit:
            pieces.append(rest)
            break
        cut = _cut(rest, _fitting(rest, limit, length))
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pieces


def _fitting(text: str, limit: int, length: Callable[[str], int]) -> int:
    """The longest prefix length of `text` within `limit` (at least 1, to make progress)."""
    low, high = 1, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _cut(text: str, size: int) -> int:
    """Where to cut `text` so that the piece has at most `size` characters."""
    window = text[: size + 1]  # one more, to see a separator just after the piece
    for separators, kept in _BOUNDARIES:
        cut = max(window.rfind(separator) + kept for separator in separators)
        if cut > 0:
            return cut
    return size


def cited_numbers(text: str) -> set[int]:
    """The passage numbers of the [n] and [n, m] markers in an answer text."""
    return {int(n) for group in _MARKER.findall(text) for n in group.split(",")}


def shown_citations(answer: Answer) -> list[Citation]:
    """The citations to list: those cited in the text, else the top ones; none when refused."""
    if answer.refused:
        return []
    cited = cited_numbers(answer.answer)
    if not cited:
        return answer.citations[:DEFAULT_SOURCES]
    return [c for c in answer.citations if c.n in cited]


def display_date(date: str) -> str:
    """An ISO date as Vietnamese write it (16/06/2025); anything else unchanged."""
    match = _ISO_DATE.fullmatch(date)
    return f"{match[3]}/{match[2]}/{match[1]}" if match else date


def escape(text: str) -> str:
    """Escape for Telegram's HTML parse mode (<, > and & only)."""
    return html.escape(text, quote=False)


def _source_line(citation: Citation, *, as_html: bool) -> str:
    """`[n] title — number, date — section`, empty parts left out; in HTML the title is bold."""
    title = citation.title or citation.doc
    meta = ", ".join(part for part in (citation.number, display_date(citation.date)) if part)
    rest = [part for part in (meta, citation.section) if part]
    if as_html:
        return " — ".join([f"[{citation.n}] <b>{escape(title)}</b>", *map(escape, rest)])
    return " — ".join([f"[{citation.n}] {title}", *rest])


def _html_sources(answer: Answer) -> list[str]:
    """The "Nguồn:" block as HTML lines (header first), or [] when nothing is listed."""
    lines = [_source_line(c, as_html=True) for c in shown_citations(answer)]
    return [SOURCES_HEADER, *lines] if lines else []


def telegram_html(answer: Answer) -> str:
    """The answer for Telegram's HTML parse mode: escaped text with its [n], then its sources."""
    return _blocks(escape(answer.answer), _html_sources(answer))


def telegram_messages(answer: Answer, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """`telegram_html(answer)` cut into messages of at most `limit` characters.

    The text is cut before it is escaped, so no cut falls inside an entity such as &amp;; the
    sources are cut only between lines, so never inside a <b> tag.
    """
    pieces = [escape(p) for p in split_message(answer.answer, limit, length=_escaped_length)]
    sources = "\n".join(_html_sources(answer))
    if pieces and sources and len(pieces[-1]) + 2 + len(sources) <= limit:
        pieces[-1] = f"{pieces[-1]}\n\n{sources}"
    elif sources:
        pieces.extend(split_message(sources, limit))
    return pieces


def _escaped_length(text: str) -> int:
    return len(escape(text))


def plain_text(answer: Answer, limit_sources: int = DEFAULT_SOURCES) -> str:
    """The answer for plain-text channels (Zalo): the text, then a short list of sources."""
    shown = shown_citations(answer)[:limit_sources]
    sources = [f"- {_source_line(c, as_html=False)}" for c in shown]
    return _blocks(answer.answer, [SOURCES_HEADER, *sources] if sources else [])


def plain_messages(answer: Answer, limit: int) -> list[str]:
    """`plain_text(answer)` cut into messages of at most `limit` characters, in order (so the
    sources come last)."""
    return split_message(plain_text(answer), limit)


def _blocks(text: str, sources: Sequence[str]) -> str:
    return "\n\n".join(part for part in (text.strip(), "\n".join(sources)) if part)


# --- suggested next questions -------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A next question to offer: a short label for its button, and the question it asks."""

    label: str
    question: str


def suggested_questions(answer: Answer) -> list[Suggestion]:
    """The next questions an answer about one old unit or address suggests (from its `facts`):
    which old units formed each new unit it went to, and how many communes its province has
    now. None for a refusal, several candidates, or an answer without such facts."""
    if answer.refused or len(answer.facts) != 1:
        return []
    fact = answer.facts[0]
    province, status = str(fact.get("province") or ""), fact.get("status")
    if not province or status not in ("merged", "split", "unchanged"):
        return []
    units = [] if status == "unchanged" else [str(u) for u in fact.get("new_units") or []]
    suggestions = [
        _suggestion("reverse", unit, unit=unit, province=province)
        for unit in units[: MAX_SUGGESTIONS - 1]
    ]
    return [*suggestions, _suggestion("count", province, province=province)]


def _suggestion(kind: str, subject: str, **values: str) -> Suggestion:
    """The question `suggest.<kind>`, labelled `suggest.<kind>_label` with the subject's name
    (its kind dropped, then cut short) so that the label fits `LABEL_CHARS`."""
    name = _KIND.sub("", subject)
    label = template(f"suggest.{kind}_label", name=name)
    if len(label) > LABEL_CHARS:
        keep = max(1, len(name) - (len(label) - LABEL_CHARS) - 1)
        label = template(f"suggest.{kind}_label", name=name[:keep].rstrip() + "…")
    return Suggestion(label, template(f"suggest.{kind}", **values))
