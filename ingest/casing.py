"""Readable case for the ALL-CAPS lines of Vietnamese administrative documents: issuers,
titles, subjects ("ỦY BAN THƯỜNG VỤ QUỐC HỘI" -> "Ủy ban Thường vụ Quốc hội").
"""

from __future__ import annotations

import re

from ingest.text import ABBREVIATIONS, CAPITAL_ABBREVIATIONS, fold

_TOKEN = re.compile(r"[^\W_]+")
_ROMAN_TOKEN = re.compile(r"[IVXLC]+")
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]")
_PROPER_NOUNS = {
    "đảng ủy khối": "Đảng ủy Khối",
    "mặt trận tổ quốc": "Mặt trận Tổ quốc",
    "bộ chính trị": "Bộ Chính trị",
    "quốc hội": "Quốc hội",
    "chính phủ": "Chính phủ",
    "trung ương": "Trung ương",
    "nhà nước": "Nhà nước",
    "việt nam": "Việt Nam",
    "tỉnh ủy": "Tỉnh ủy",
    "thành ủy": "Thành ủy",
    "huyện ủy": "Huyện ủy",
    "quận ủy": "Quận ủy",
    "đảng": "Đảng",
}
_PROPER_ALT = "|".join(sorted(map(re.escape, _PROPER_NOUNS), key=len, reverse=True))
_PROPER = re.compile(rf"(?<!\w)({_PROPER_ALT})(?!\w)")
# "Ban Tuyên giáo", "Ủy ban Thường vụ", "Cục Thống kê"; not "ban hành", "Ủy ban nhân dân".
_ORG_HEAD = re.compile(r"(?<!\w)(ủy ban|ban|cục|sở)\s+(?!hành\b|nhân dân\b)([^\W\d_]+)")
_PLACE = re.compile(
    r"(?<![\w-])(?<!cấp )(?<!- )(tỉnh|thành phố|quận|huyện|thị xã|thị trấn|xã|phường"
    r"|Tỉnh ủy|Thành ủy|Huyện ủy|Quận ủy)(?!\s+hội(?!\w))((?:\s+[^\W\d_]+)+)"
)
_NOT_IN_PLACE_NAMES = frozenset(
    "năm và của về trên tại giai cấp trực thuộc theo sau trước đến từ với các mới khóa nhiệm lần"
    .split()
)


def capitalize(word: str) -> str:
    return word[:1].upper() + word[1:]


def _keeps_case(token: str) -> bool:
    """Roman numerals, codes with digits and known abbreviations stay as written."""
    return (
        bool(_ROMAN_TOKEN.fullmatch(token))
        or any(c.isdigit() for c in token)
        or token in CAPITAL_ABBREVIATIONS
        or fold(token) in ABBREVIATIONS
    )


def _place_name(match: re.Match[str]) -> str:
    words = match.group(2).split(" ")
    out: list[str] = []
    for i, word in enumerate(words):
        if word in _NOT_IN_PLACE_NAMES:
            return match.group(1) + " ".join(out + words[i:])
        out.append(capitalize(word))
    return match.group(1) + " ".join(out)


def readable_case(caps: str, *, capitalize_first: bool = True) -> str:
    """An ALL-CAPS name or title in ordinary Vietnamese case.

    "ỦY BAN THƯỜNG VỤ QUỐC HỘI" -> "Ủy ban Thường vụ Quốc hội";
    "ĐẢNG ỦY KHỐI … TỈNH THÁI BÌNH" -> "Đảng ủy Khối … tỉnh Thái Bình".
    """
    text = _TOKEN.sub(lambda m: m[0] if _keeps_case(m[0]) else m[0].lower(), caps)
    text = _PROPER.sub(lambda m: _PROPER_NOUNS[m[1]], text)
    text = _ORG_HEAD.sub(lambda m: f"{capitalize(m[1])} {capitalize(m[2])}", text)
    text = _PLACE.sub(_place_name, text)
    return capitalize(text) if capitalize_first else text


def is_caps(line: str) -> bool:
    return line == line.upper() and _TWO_LETTERS.search(line) is not None


def readable_subject(subject: str) -> str:
    """Put the ALL-CAPS tail of a subject ("… DANH MỤC VÀ MÃ SỐ …") in ordinary case."""
    words = subject.split()
    start = len(words)
    while start > 0 and (is_caps(words[start - 1]) or not _has_letter(words[start - 1])):
        start -= 1
    if sum(is_caps(w) for w in words[start:]) < 2:
        return subject
    tail = readable_case(" ".join(words[start:]), capitalize_first=False)
    return " ".join([*words[:start], tail])


def _has_letter(word: str) -> bool:
    return any(c.isalpha() for c in word)


def sentence_case(doc_type: str) -> str:
    return capitalize(doc_type.lower())
