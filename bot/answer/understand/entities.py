"""Step 1 of reading a question: the names in it, linked to the map and the documents.

Each mention has a kind (unit, province, district, doc), the folded words it spans and a
confidence. A name is trusted where the words around it make it a name: after a type word a
common word ("thị trấn làm", "xã phải", "phường bên") is a weak mention that a reading may
ignore. English type words ("Trung Hoa ward") are read as their Vietnamese ones, and a name
typed with one letter off is found among the names of the province the question gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property

from index.gazetteer import Gazetteer
from index.query import Catalog, Hints, analyze, find_bare_names, find_units, kind_words
from index.registry import UnitRegistry
from ingest.text import fold, lexical_tokens, match_form
from prompts import names

WEAK = 0.3
_PLACEHOLDER_ORDER = ("doc", "unit", "province", "district")
SHORT = 8  # words: a question this short naming nothing else may name a place bare
# English words that begin a sentence but no place name ("Which ward is …")
ENGLISH_WORDS = frozenset("which what where is was the my our a an in of to now new old this that and or".split())
_DISTRICT_WORDS = ("quan", "huyen", "thi xa", "thanh pho", "tp", "tx")
# what may follow a name without being part of it: places, "mới/cũ", type words
_FOLLOWERS = frozenset("quan huyen tinh thanh tp tx thi q h p xa phuong cu moi sau truoc ward commune district".split())
_PLACED = re.compile(
    r"zzunit(?:\W+(?:(?:o|thuoc|cua) )?(?:(?:(?:quan|huyen|thi xa|thanh pho|tinh) )?(?:zzdistrict|zzprovince)"
    r"|(?:quan|huyen|thi xa|thanh pho) [a-z0-9]+(?: [a-z0-9]+){0,3}?(?=\W+(?:zzprovince|zzdistrict))))+\W*"
)


@dataclass(frozen=True)
class Mention:
    kind: str  # unit, province, district, doc
    words: str  # folded, as they stand in the question's match form
    confidence: float = 1.0
    cut: str = ""  # a name word the match left behind ("phường Thanh Xuân | Nam"): as typed


@dataclass
class Linked:
    text: str  # the question as read (English type words in Vietnamese)
    hints: Hints
    mentions: list[Mention] = field(default_factory=list)
    english: bool = False  # asked in English: registry answers begin with an English line
    described: frozenset[str] = frozenset()  # words that named a document by its issuer, subject, year

    def strong(self, kind: str) -> list[Mention]:
        return [m for m in self.mentions if m.kind == kind and m.confidence > WEAK]

    def typed(self, words: str) -> str:
        """The question's own spelling of folded `words` ("hoang mai" -> "Hoàng Mai")."""
        tokens = re.findall(r"[^\W_]+", self.text)
        n = len(words.split())
        for i in range(len(tokens) - n + 1):
            if fold(" ".join(tokens[i : i + n])) == words:
                return " ".join(tokens[i : i + n])
        return words

    @cached_property
    def masked(self) -> str:
        """The question's match form with each mention replaced by its placeholder (read by
        the bank and by the choice, made once: the mentions are fixed once linked)."""
        q = f" {match_form(self.text, chat=True)} "
        # the longest first; words two kinds share go to the more telling ("kế hoạch … quận
        # Thanh Xuân" is the plan of that place before it is the old district)
        for m in sorted(self.mentions, key=lambda m: (-len(m.words), _PLACEHOLDER_ORDER.index(m.kind))):
            spaced = r"[^a-z0-9]+".join(map(re.escape, m.words.split()))
            q = re.sub(rf"(?<![a-z0-9]){spaced}(?![a-z0-9])", f"zz{m.kind}", q)
        # "xã A, huyện B, tỉnh C": where a unit is belongs to its mention
        return _PLACED.sub("zzunit ", q).strip()


@cache
def _english() -> tuple[dict[str, str], re.Pattern[str], re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """names.toml's English words, compiled once: (types, "ward 5", "Trung Hoa ward", places)."""
    types: dict[str, str] = names()["english"]["types"]  # type: ignore[index,assignment]
    places: dict[str, str] = {k.lower(): v for k, v in names()["english"]["places"].items()}  # type: ignore[index,union-attr]
    alternatives = "|".join(sorted(map(re.escape, types), key=len, reverse=True))
    numbered = re.compile(rf"\b({alternatives})\s+(\d+)\b", re.I)
    named = re.compile(rf"((?:[A-ZĐÀ-Ỹ][\wÀ-ỹ'-]*\s+){{1,4}})((?i:{alternatives}))\b")
    place = re.compile(r"(?i)(?<!\w)(" + "|".join(sorted(map(re.escape, places), key=len, reverse=True)) + r")(?!\w)")
    return types, numbered, named, place, places


@cache
def _common_words() -> frozenset[str]:
    return frozenset(names()["common"]["words"])  # type: ignore[index]


def read_english(text: str) -> str:
    """"Trung Hoa ward, Cau Giay district, Hanoi" -> "phường Trung Hoa, quận Cau Giay, Hà Nội"."""
    types, numbered, named, place, places = _english()
    text = numbered.sub(lambda m: f"{types[m.group(1).lower()]} {m.group(2)}", text)

    def vietnamese(m: re.Match[str]) -> str:
        words = m.group(1).split()
        while words and words[0].lower() in ENGLISH_WORDS:
            words.pop(0)
        return f"{m.group(1)}{m.group(2)}" if not words else f"{' '.join(m.group(1).split()[: -len(words)])} {types[m.group(2).lower()]} {' '.join(words)} ".lstrip()

    text = named.sub(vietnamese, text)
    return place.sub(lambda m: places[m.group(1).lower()], text)


def _common(words: str) -> bool:
    common = _common_words()
    first = words.split()[0] if words.split() else ""
    return first in common


def _old_unit_named(name: str, hints: Hints) -> bool:
    bare = " ".join(fold(name).split()[len(kind_words(fold(name))) :])
    return any(fold(p.old.name) == bare for p in hints.units)


def _unit_mentions(text: str, hints: Hints, gazetteer: Gazetteer) -> list[Mention]:
    out = []
    for name in hints.unit_names:
        folded = fold(name)
        kind_width = len(kind_words(folded))
        bare = " ".join(folded.split()[kind_width:])
        typed = re.search(re.escape(name.split(maxsplit=kind_width)[-1]), text)
        plain = typed is not None and typed.group(0) == typed.group(0).lower() and fold(typed.group(0)) == typed.group(0)
        weak = kind_width and _common(bare) and (plain or typed is None)
        # only a name the old map lacks can be a longer old name cut short ("thanh xuân | nam")
        cut = _left_behind(text, name, gazetteer) if not _old_unit_named(name, hints) else ""
        words = match_form(name, chat=True)
        if words not in match_form(text, chat=True) and kind_width:
            words = " ".join(words.split()[kind_width:])  # named bare: "Mê Linh giờ ra sao?"
        out.append(Mention("unit", words, WEAK if weak or cut else 1.0, cut))
    return out


def _left_behind(text: str, name: str, gazetteer: Gazetteer) -> str:
    """"còn phường thanh xuân nam?": the registry knows "Thanh Xuân", and "nam" is left behind —
    the name typed is longer than the one found, so the one found is not what was named."""
    words = re.findall(r"[^\W_]+|[^\w\s]", text)
    folded = [fold(w) for w in words]
    target = fold(name).split()
    cased = text != text.lower()  # names typed with capitals: a name word is capitalised too
    for i in range(len(folded) - len(target) + 1):
        if folded[i : i + len(target)] == target:
            j = i + len(target)
            after = folded[j] if j < len(folded) else ""
            if not after or not after.isalpha() or after in _FOLLOWERS or _common(after):
                return ""
            if cased and not words[j][:1].isupper():
                return ""
            if gazetteer.district_provinces(" ".join(folded[j : j + 2])):
                return ""  # "… hậu cầu giấy": the district follows the name
            return " ".join(words[i : j + 1])
    return ""


def _address_mention(hints: Hints) -> list[Mention]:
    """The commune of an address line ("X. Hợp Thịnh, H. Kỳ Sơn"), found on the map or not."""
    address = hints.address
    if address is None or address.commune is None or hints.unit_names:
        return []
    return [Mention("unit", match_form(address.commune.name, chat=True))]


def names_a_unit(linked: Linked) -> bool:
    """A commune is named (a type word and a name, or an address line), known or not."""
    address = linked.hints.address
    if address is not None and address.commune is not None:
        return True
    words = match_form(linked.text, chat=True).split()
    for i in kind_words_in(linked.text):
        after = words[i + len(kind_words(" ".join(words[i : i + 2]))) :]
        if after and not _common(after[0]):
            return True
    return False


def _province_mentions(q: str, hints: Hints) -> list[Mention]:
    out = [Mention("province", m.key) for m in hints.mentions]
    for m in list(out):
        for kind in ("tinh", "thanh pho"):
            if f"{kind} {m.words}" in q:
                out.append(Mention("province", f"{kind} {m.words}"))
    return out


def _district_mentions(q: str, hints: Hints, units: list[Mention], gazetteer: Gazetteer) -> list[Mention]:
    """Districts typed after "quận/huyện", and a bare name that is also an old district's
    ("Cầu Giấy giờ gồm những gì?": the old quận and the new phường both answer). The last
    turn's district places this turn's units; it is no mention of this question."""
    out = [Mention("district", m.words) for m in units
           if not kind_words(m.words) and gazetteer.district_provinces(m.words)]  # fmt: skip
    for typed in hints.districts:
        words = typed.split()
        for n in range(len(words), 0, -1):
            name = " ".join(words[:n])
            if f" {name} " not in f" {q} ":
                continue
            if gazetteer.district_provinces(name) or gazetteer.registry.formed(name):
                out.append(Mention("district", name))
                break
    return out


def _doc_mentions(q: str, hints: Hints, catalog: Catalog) -> list[Mention]:
    out = []
    keys = [k for k, d in catalog.numbers.items() if d in hints.doc_ids]
    keys += [a for a, docs in catalog.aliases.items() if set(docs) & set(hints.doc_ids)]
    for key in keys:
        if re.search(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", q):
            out.append(Mention("doc", key))
    return out


def _fuzzy_units(text: str, hints: Hints, gazetteer: Gazetteer) -> None:
    """After a type word, a name the registry does not know: the nearest of its province."""
    province = hints.provinces[0] if len(hints.provinces) == 1 else ""
    words = re.findall(r"[^\W_]+", text)
    folded = [fold(w) for w in words]
    for i in range(len(words)):
        width = len(kind_words(" ".join(folded[i : i + 2])))
        if not width:
            continue
        kind = " ".join(words[i : i + width])
        for end in range(min(len(words), i + width + 4), i + width, -1):
            typed = " ".join(words[i + width : end])
            near = gazetteer.near(typed, province)
            if len(near) == 1:
                found = gazetteer.registry.find(near[0].name, kind, province, hints.districts)
                if found:
                    hints.units.extend(p for p in found if p not in hints.units)
                    hints.unit_names.append(f"{kind} {typed}")
                    return


def link(
    question: str,
    catalog: Catalog,
    registry: UnitRegistry,
    gazetteer: Gazetteer,
    place: Hints | None = None,
) -> Linked:
    """Every name of the question; `place`: the conversation's last province and district,
    among whose units a bare name ("vậy Kỳ Ninh nữa?") is looked for."""
    text = read_english(question)
    hints = analyze(text, catalog, registry, place)
    _drop_district_names(text, hints)
    if not hints.provinces:
        hints.provinces = _district_province(hints, gazetteer)
    if hints.address is not None and len(kind_words_in(text)) > 1:
        find_units(text, hints, registry)  # "xã A với xã B ở huyện C": every one of them
    if not hints.units and not hints.formed and kind_words_in(text):
        _fuzzy_units(text, hints, gazetteer)
    short = len(text.split()) <= SHORT
    if (place is not None or short) and not (hints.units or hints.formed or hints.mentions or hints.doc_ids):
        find_bare_names(text, hints, registry)  # "vậy Kỳ Ninh nữa?", "Mê Linh giờ ra sao?"
        _drop_district_names(text, hints)
    q = match_form(text, chat=True)
    units = _unit_mentions(text, hints, gazetteer)
    mentions = units + _address_mention(hints) + _province_mentions(q, hints)
    mentions += _district_mentions(q, hints, units, gazetteer) + _doc_mentions(q, hints, catalog)
    return Linked(text, hints, mentions, english=_in_english(question), described=_described(text, hints, catalog))


def _drop_district_names(text: str, hints: Hints) -> None:
    """"quận Cầu Giấy" names the old district, not the new phường Cầu Giấy."""
    q = f" {match_form(text, chat=True)} "

    def bare(name: str) -> str:  # "xã Mê Linh" found for a "Mê Linh" typed without its kind
        folded = fold(name)
        width = len(kind_words(folded)) if f" {folded} " not in q else 0
        return " ".join(folded.split()[width:])

    inside = [n for n in hints.unit_names if not kind_words(bare(n))
              and any(f" {d} {bare(n)} " in q for d in _DISTRICT_WORDS)]  # fmt: skip
    if not inside:
        return
    hints.unit_names = [n for n in hints.unit_names if n not in inside]
    folded = {bare(n) for n in inside}
    hints.units = [p for p in hints.units if fold(p.old.name) not in folded]
    hints.formed = [c for c in hints.formed if fold(c.new_name) not in folded]


def _district_province(hints: Hints, gazetteer: Gazetteer) -> list[str]:
    """The one province where the district the question names is known."""
    for typed in hints.districts:
        words = typed.split()
        for n in range(len(words), 0, -1):
            provinces = gazetteer.district_provinces(" ".join(words[:n]))
            if provinces:
                return sorted(provinces) if len(provinces) == 1 else []
    return []


def _described(text: str, hints: Hints, catalog: Catalog) -> frozenset[str]:
    """"kế hoạch tuyên truyền xây dựng Đảng năm 2023 của Huyện ủy": the words that chose the
    document account for themselves, not for what is asked of it."""
    if catalog.profiles is None or not hints.doc_ids:
        return frozenset()
    profile = set().union(*(catalog.profiles.tokens.get(d, frozenset()) for d in hints.doc_ids))
    return frozenset(t for t in lexical_tokens(text, chat=True) if "_" not in t and t in profile)


def _in_english(question: str) -> bool:
    """Mostly English words ("Which ward is … now?"), by the asking words it uses."""
    words = re.findall(r"[a-z]+", question.lower())
    asking = sum(w in ENGLISH_WORDS or w in ("how", "does", "did", "still", "exist", "merged", "new") for w in words)
    return asking >= 2 and asking * 4 >= len(words)


def kind_words_in(text: str) -> list[int]:
    """Positions of the commune type words of a text ("xã", "phường", "thị trấn", "đặc khu")."""
    folded = match_form(text, chat=True).split()
    return [i for i in range(len(folded)) if kind_words(" ".join(folded[i : i + 2]))]
