"""Old Vietnamese address lines as residents type them ("so 7 ngo 15 duong nguyen khanh toan p
quan hoa q cau giay ha noi") cut into street, commune, district and province. Pure text: kind
words (address_terms.toml) open units, separators close them, position decides the rest; no
registry lookup, so an old province that no longer exists stays as typed.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Generic, NamedTuple, TypeVar

from ingest.text import TONE_MARKS, fold, normalize, place_tone_marks

MAX_ADDRESS_CHARS = 300  # no address line is longer: a longer text is not one, and work is bounded
_LEVELS = ("commune", "district", "province")
_NAMEY = ("word", "num")
_HARD = frozenset({"->", "=>", "→", "⇒", "\n", ":", "?", "!", "…", "."})
_TOKEN = re.compile(
    r"(?P<num>\d[\w/]*(?:[.\-]\d[\w/]*)*)|(?P<word>[^\W\d_]+)(?P<dot>\.)?"
    r"|(?P<sep>->|=>|[→⇒\n,;:.?!()\[\]|…])|(?P<mark>[^\w\s])"
)
_T = TypeVar("_T")


@dataclass(frozen=True)
class UnitRef:
    kind: str  # canonical, with diacritics: "phường", "huyện", "thành phố"
    name: str  # as typed, tidied; numbers without leading zeros


@dataclass(frozen=True)
class ParsedAddress:
    text: str
    street: str = ""
    commune: UnitRef | None = None
    district: UnitRef | None = None
    province: str = ""


class _Tok(NamedTuple):
    low: str  # lower case; an abbreviation keeps its dot: "p."
    key: str  # folded, without the dot: what place names and chat phrases are matched on
    start: int
    end: int
    cls: str  # "word", "num", "sep" or "mark"


@lru_cache(maxsize=1 << 12)
def _key(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def _untoned(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))


def _letters(bases: str) -> str:
    """The letters that are one of `bases` once their tone mark is off ("o", "Ò", "ọ"): all
    of them lie in the Latin blocks."""
    chars = map(chr, [*range(0x250), *range(0x1E00, 0x1F00)])
    return "".join(c for c in chars if c.isalpha() and _untoned(c).lower() in bases)


# normalize() changes a text that is NFC and tidy only in a word ending in oa/oe/uy (its tone
# mark moves), so such text skips it and only those words go through place_tone_marks.
_UNTIDY = re.compile(r"[\r\n\t\xa0\u200b\ufeff\ud800-\udfff]| {2}")
_OPEN_END = re.compile(
    rf"(?<![^\W\d_])[^\W\d_]*(?:[{_letters('o')}][{_letters('ae')}]|[{_letters('u')}]"
    rf"[{_letters('y')}])(?![^\W\d_])"
)


@lru_cache(maxsize=1 << 12)
def _tone(word: str) -> str:
    return place_tone_marks(word)


def _normal(text: str) -> str:
    """normalize(text), cheaply when the text is already (nearly) normal."""
    if (
        _UNTIDY.search(text)
        or text[:1].isspace()
        or text[-1:].isspace()
        or not unicodedata.is_normalized("NFC", text)
    ):
        return normalize(text)
    return text if text.isascii() else _OPEN_END.sub(lambda m: _tone(m[0]), text)


class _Phrases(Generic[_T]):
    """Phrases (tuples of words) -> values, with the lengths of the phrases each first word
    starts, so a lookup at a token tries only lengths that can match."""

    def __init__(self, table: dict[tuple[str, ...], _T]) -> None:
        self.table = table
        lengths: dict[str, set[int]] = {}
        for form in table:
            if form:
                lengths.setdefault(form[0], set()).add(len(form))
        self.lengths = {w: sorted(ns, reverse=True) for w, ns in lengths.items()}

    def longest(self, words: list[str], i: int) -> tuple[_T | None, int]:
        """The longest phrase at word i (words in lower case or folded) and its length."""
        if i >= len(words):
            return None, 0
        for n in self.lengths.get(words[i], ()):
            if i + n <= len(words):
                hit = self.table.get(tuple(words[i : i + n]))
                if hit is not None:
                    return hit, n
        return None, 0


def _forms(groups: dict[str, list[str]]) -> dict[tuple[str, ...], str]:
    """Every form of a word (the canonical one, its folding, its abbreviations) -> the word."""
    return {
        tuple(f.lower().split()): w for w, forms in groups.items() for f in (w, fold(w), *forms)
    }


# The vocabulary is data (address_terms.toml, read once): a new form is no code change.
_TERMS = tomllib.loads(resources.files("ingest").joinpath("address_terms.toml").read_text("utf-8"))
_KIND_FORMS: dict[tuple[str, ...], dict[str, str]] = {}  # form -> {level: kind}: "tp" has two
for _level in _LEVELS:
    for _form, _kind in _forms(_TERMS["kinds"][_level]).items():
        _KIND_FORMS.setdefault(_form, {})[_level] = _kind
_STREET_FORMS = _forms(_TERMS["street"])
_PLACES = {_key(p): "" for p in _TERMS["places"]["provinces"]["names"]} | {
    _key(alias): name for alias, name in _TERMS["places"]["aliases"].items()
}  # folded province or alias -> the name written out ("" keeps it as typed)
_COUNTRIES = frozenset(_key(c) for c in _TERMS["places"]["countries"])
_NO_PLACE = _COUNTRIES | {""}
_NOT_NAMES = frozenset(_TERMS["names"]["not_names"])
_LEAD_IN = _Phrases({tuple(_key(p).split()): p for p in _TERMS["chat"]["lead_in"]})
_TRAILING = _Phrases({tuple(_key(p).split()): p for p in _TERMS["chat"]["trailing"]})
_DOTTED = frozenset(
    f[0] for f in [*_KIND_FORMS, *_STREET_FORMS] if len(f) == 1 and f[0].endswith(".")
)
_SPAN = max(len(f) for f in [*_KIND_FORMS, *_STREET_FORMS, *_LEAD_IN.table, *_TRAILING.table])
# Forms typed as the bare (folded) word: "xa" for "xã", "so" for "số".
_BARE_KINDS = frozenset(
    f for f, kinds in _KIND_FORMS.items() if " ".join(f) in {fold(k) for k in kinds.values()}
)
_BARE_STREET = frozenset(f for f, w in _STREET_FORMS.items() if " ".join(f) == fold(w))
_KINDS, _STREET = _Phrases(_KIND_FORMS), _Phrases(_STREET_FORMS)
# The words a kind (or a kind or street) phrase starts with: at any other word nothing opens.
_KIND_WORDS = frozenset(_KINDS.lengths)
_OPENERS = _KIND_WORDS | frozenset(_STREET.lengths)


@lru_cache(maxsize=1 << 14)
def _pieces(chunk: str) -> tuple[tuple[str, str, int, int, str], ...]:
    """The tokens of a text without spaces, offsets from its start. No token holds a space, so
    a line's tokens are those of its space-separated chunks, which recur from line to line."""
    out: list[tuple[str, str, int, int, str]] = []
    for m in _TOKEN.finditer(chunk):
        cls = "word" if m.lastgroup == "dot" else m.lastgroup or "mark"
        word = m["word"] or ""
        if cls != "word" or (m["dot"] and word.lower() + "." in _DOTTED):
            out.append((m[0].lower(), fold(word or m[0]), m.start(), m.end(), cls))
            continue
        out.append((word.lower(), fold(word), m.start(), m.start() + len(word), cls))
        if m["dot"]:
            out.append((".", ".", m.end() - 1, m.end(), "sep"))
    return tuple(out)


def _tokens(text: str) -> list[_Tok]:
    """Words, numbers and punctuation with their offsets, so parts are cut from the text as
    typed; "P.Quan" and "TP.HCM" split after the dot of a known abbreviation."""
    out: list[_Tok] = []
    at = 0
    for chunk in text.split(" "):
        for low, key, start, end, cls in _pieces(chunk):
            out.append(_Tok(low, key, at + start, at + end, cls))
        at += len(chunk) + 1
    return out


def _kind_at(toks: list[_Tok], lows: list[str], i: int) -> tuple[dict[str, str], int]:
    """A kind word counts only when a name follows it: "xa long xa" ends in a name, not a kind,
    and "phường nào?" asks a question."""
    kinds, n = _KINDS.longest(lows, i)
    if kinds is None or i + n >= len(toks):
        return {}, 0
    nxt = toks[i + n]
    if nxt.cls not in _NAMEY or nxt.low in _NOT_NAMES:
        return {}, 0
    return kinds, n


def _street_at(toks: list[_Tok], lows: list[str], i: int, seg_start: bool) -> tuple[str, int]:
    """A street keyword. Typed bare ("to", "so", "ban") it is also an ordinary syllable, so it
    counts only where a keyword stands: at the start of a segment or after a number."""
    word, n = _STREET.longest(lows, i)
    if word is None:
        return "", 0
    keyword_place = seg_start or (i > 0 and toks[i - 1].cls == "num")
    if not keyword_place and tuple(lows[i : i + n]) in _BARE_STREET:
        return "", 0
    return word, n


@dataclass
class _Unit:
    kinds: dict[str, str]  # level -> canonical kind word
    start: int  # token index of the kind word
    name: list[_Tok] = field(default_factory=list)


@dataclass
class _Scan:
    units: list[_Unit] = field(default_factory=list)
    keywords: dict[int, tuple[str, int]] = field(default_factory=dict)  # street words by token
    loose: list[tuple[int, list[_Tok]]] = field(default_factory=list)  # (units before, tokens)


def _short(unit: _Unit | None) -> bool:
    return unit is not None and sum(t.cls == "word" for t in unit.name) == 1


def _opening(
    toks: list[_Tok], lows: list[str], i: int, seg_start: bool, units: bool, unit: _Unit | None
) -> tuple[object, int]:
    """What token i opens and how many tokens that takes: a unit, a street keyword (only before
    the first unit), a bare place segment after the units (None, its length), or nothing.
    Names have two syllables or more, so a bare kind word after one ("huyen son tinh quang
    ngai") belongs to the name of the open `unit` when that has one."""
    if seg_start and units:  # "TT Huế" after the units is a province, not a thị trấn
        end = i
        while end < len(toks) and toks[end].cls != "sep":
            end += 1
        if _key(" ".join([t.key for t in toks[i:end]])) in _PLACES:
            return None, end - i
    kinds, n = _kind_at(toks, lows, i)
    word, m = ("", 0) if units else _street_at(toks, lows, i, seg_start)
    if kinds and n >= m and not (_short(unit) and tuple(lows[i : i + n]) in _BARE_KINDS):
        return _Unit(kinds, i), n
    return (word, m) if word else (None, 0)


def _scan(toks: list[_Tok], lows: list[str]) -> _Scan:
    """One pass: kind words open units whose names run to the next kind word or separator;
    the token right after a kind or street word is always a name ("phường Phố Huế")."""
    scan, unit, loose = _Scan(), None, []
    i, seg_start, protect = 0, True, False

    def flush() -> None:
        if loose:
            scan.loose.append((len(scan.units), loose[:]))
            loose.clear()

    while i < len(toks):
        if toks[i].cls == "sep":
            flush()
            unit, seg_start, protect, i = None, True, False, i + 1
            continue
        units = bool(scan.units)  # _opening is skipped where it can only give (None, 0)
        if protect or (
            lows[i] not in (_KIND_WORDS if units else _OPENERS) and not (seg_start and units)
        ):
            opened, n = None, 0
        else:
            opened, n = _opening(toks, lows, i, seg_start, units, unit)
        protect, seg_start = isinstance(opened, (_Unit, str)), False
        if isinstance(opened, _Unit):
            flush()
            unit = opened
            scan.units.append(unit)
        elif isinstance(opened, str):
            scan.keywords[i] = (opened, n)
        elif n:
            loose.extend(toks[i : i + n])
        elif unit is not None and not (unit.name and unit.name[0].cls == "num"):
            unit.name.append(toks[i])  # a numbered unit ("Phường 05") ends after its number
        elif scan.units:
            loose.append(toks[i])
        i += n or 1
    flush()
    return scan


def _tidy(text: str, toks: list[_Tok]) -> str:
    """The typed text of a run of tokens, without punctuation at either end; "05" -> "5"."""
    lo, hi = 0, len(toks)
    while lo < hi and toks[lo].cls not in _NAMEY:
        lo += 1
    while hi > lo and toks[hi - 1].cls not in _NAMEY:
        hi -= 1
    out = text[toks[lo].start : toks[hi - 1].end] if lo < hi else ""
    return (out.lstrip("0") or "0") if out.isascii() and out.isdigit() else out


def _split_tail(name: list[_Tok]) -> tuple[list[_Tok], list[_Tok]]:
    """Without commas a province ends the last name ("cau giay ha noi"): cut the longest known
    one off after dropping a country ("… viet nam"), leaving a name of two syllables at least
    ("phường Phố Huế" keeps its Huế)."""
    words = [t for t in name if t.cls in _NAMEY]
    for n in range(min(3, len(words) - 1), 0, -1):
        if " ".join(t.key for t in words[-n:]) in _COUNTRIES:
            name, words = name[: name.index(words[-n])], words[:-n]
            break
    for n in range(min(_SPAN, len(words) - 2), 0, -1):
        if " ".join(t.key for t in words[-n:]) in _PLACES:
            cut = name.index(words[-n])
            return name[:cut], name[cut:]
    return name, []


def _trailing(scan: _Scan) -> list[_Tok]:
    """The last segment after every unit that does not name the country: the province."""
    for count, toks in reversed(scan.loose):
        if count < len(scan.units):
            break
        if " ".join(t.key for t in toks if t.cls in _NAMEY) not in _NO_PLACE:
            return toks
    return []


def _commune_index(units: list[_Unit]) -> int | None:
    """The last commune-level unit of the first run of them: a line names one commune, so in
    "137 Xã Đàn, phường Nam Đồng" the first is a street."""
    flags = ["commune" in unit.kinds for unit in units] + [False]
    if True not in flags:
        return None
    return flags.index(False, flags.index(True)) - 1


def _street(text: str, toks: list[_Tok], keywords: dict[int, tuple[str, int]]) -> str:
    """The street part with its keywords written in full ("so 7 ngo 15" -> "số 7 ngõ 15");
    keywords already typed in full keep their case ("Số 8 đường Hùng Vương")."""
    named = [k for k, t in enumerate(toks) if t.cls in _NAMEY]
    parts: list[str] = []
    i, prev, pad = (named[0], toks[named[0]].start, False) if named else (0, 0, False)
    while named and i <= named[-1]:
        word, n = keywords.get(i, ("", 1))
        last = toks[i + n - 1]
        parts.append(text[prev : toks[i].start] or (" " if pad else ""))
        typed, pad = text[toks[i].start : last.end], False
        if word and " ".join(t.low for t in toks[i : i + n]) != word:
            pad = typed.endswith(".")  # "Đ.Lê Lợi" -> "Đường Lê Lợi"
            typed = word[0].upper() + word[1:] if typed[:1].isupper() else word
        parts.append(typed)
        prev, i = last.end, i + n
    return "".join(parts)


def _upper(text: str, units: list[_Unit], tail: list[_Tok]) -> tuple[UnitRef | None, str]:
    """District and province after the commune. "Thành phố" is a province when it is the last
    unit ("…, TP Hà Nội"), a district city when a province follows ("TP Thái Nguyên, tỉnh …")."""
    district, province = None, _tidy(text, tail)
    province = _PLACES.get(_key(province)) or province
    for n, unit in enumerate(units):
        after = bool(tail) or any("province" in later.kinds for later in units[n + 1 :])
        name = _tidy(text, unit.name)
        if "district" in unit.kinds and ("province" not in unit.kinds or after):
            district = district or UnitRef(unit.kinds["district"], name)
        elif "province" in unit.kinds and not province:
            province = _PLACES.get(_key(name)) or name
    return district, province


def parse_address(text: str) -> ParsedAddress:
    """Cut one address line into its parts; text that is not an address gives empty parts."""
    text = _normal(text) if isinstance(text, str) else ""
    toks = _tokens(text) if len(text) <= MAX_ADDRESS_CHARS else []
    scan = _scan(toks, [t.low for t in toks])
    if not scan.units:
        return ParsedAddress(text)
    tail, last = _trailing(scan), scan.units[-1]
    if not tail and set(last.kinds) != {"province"}:
        last.name, tail = _split_tail(last.name)
    c = _commune_index(scan.units)
    first = scan.units[c or 0]
    street = _street(text, toks[: first.start], scan.keywords)
    commune = UnitRef(first.kinds["commune"], _tidy(text, first.name)) if c is not None else None
    district, province = _upper(text, scan.units[c + 1 :] if c is not None else scan.units, tail)
    return ParsedAddress(text, street, commune, district, province)


def _clauses(toks: list[_Tok], lows: list[str]) -> list[tuple[int, int]]:
    """Sentences and clauses of a question; a "." before a kind word is a comma ("X. Quận")."""
    cuts = [i for i, t in enumerate(toks) if t.cls == "sep" and t.low in _HARD]
    cuts = [i for i in cuts if toks[i].low != "." or not _kind_at(toks, lows, i + 1)[1]]
    return list(zip([0, *(i + 1 for i in cuts)], [*cuts, len(toks)]))


def _address_span(
    toks: list[_Tok], lows: list[str], keys: list[str], lo: int, hi: int
) -> tuple[int, int] | None:
    """Tokens of the address in a clause: from its street (a number or street word after the
    lead-in) or else its commune, up to the question that follows it."""
    k = next((i for i in range(lo, hi) if "commune" in _kind_at(toks, lows, i)[0]), None)
    if k is None:
        return None
    start = lo
    for i in range(lo, k):
        n = _LEAD_IN.longest(keys, i)[1]
        start = i + n if n else start
    street = (
        i
        for i in range(start, k)
        if toks[i].cls == "num" or _street_at(toks, lows, i, i == start)[1]
    )
    after = k + _kind_at(toks, lows, k)[1] + 1
    end = (i for i in range(after, hi) if _TRAILING.longest(keys, i)[1])
    return next(street, k), next(end, hi)


def find_address(question: str) -> ParsedAddress | None:
    """The address inside a chat question, without its lead-in ("địa chỉ cũ của tôi là") and
    the question after it ("địa chỉ mới ghi thế nào?"); None when no commune is named.
    The clause naming the most parts wins, so a stray "xã" in another sentence does not."""
    text = _normal(question) if isinstance(question, str) else ""
    toks = _tokens(text)
    lows, keys = [t.low for t in toks], [t.key for t in toks]
    best, score = None, 0
    for lo, hi in _clauses(toks, lows):
        span = _address_span(toks, lows, keys, lo, hi)
        if span is None:
            continue
        found = parse_address(text[toks[span[0]].start : toks[span[1] - 1].end])
        parts = sum(map(bool, (found.street, found.commune, found.district, found.province)))
        if found.commune and parts > score:
            best, score = found, parts
    return best
