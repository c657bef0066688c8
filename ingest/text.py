"""Vietnamese text handling, in one place: normalisation, folding, abbreviations.

Every other module calls these functions instead of touching Unicode itself, so a
document and a question typed on a phone end up in the same form.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_COMBINING = re.compile(r"[\u0300-\u036f]")
_WORD = re.compile(r"[^\W\d_]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Old-style placement ("hòa", "thủy", "khỏe"), the one most of the corpus uses.
_OPEN_PAIRS = ("oa", "oe", "uy")


@lru_cache(maxsize=1 << 16)
def _place_tone(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) != 1:
        return word
    bare = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    low = bare.lower()
    for pair in _OPEN_PAIRS:
        if low.endswith(pair) and len(low) >= 2:
            head = low[:-2]
            if pair == "uy" and head.endswith("q"):
                return word
            i = len(bare) - 2
            return unicodedata.normalize("NFC", bare[: i + 1] + tones[0] + bare[i + 1 :])
    return word


def place_tone_marks(text: str) -> str:
    """Move tone marks of open oa/oe/uy syllables to one placement: "Hoà" -> "Hòa"."""
    return _WORD.sub(lambda m: _place_tone(m.group(0)), text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def normalize(text: str) -> str:
    """NFC + one tone-mark placement + tidy whitespace; the canonical form of any text.

    A lone UTF-16 surrogate (JSON may escape one: "\\ud800") becomes U+FFFD, since no UTF-8
    encoder (HTTP response, SQLite) accepts it."""
    text = nfc(_LONE_SURROGATE.sub("\ufffd", text)).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    text = place_tone_marks(text)
    text = re.sub(r"[ \t]+", " ", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Lowercase, no diacritics, đ -> d: the form used for matching. Memoised: names and
    question words are folded again and again."""
    text = unicodedata.normalize("NFD", nfc(text).lower().replace("đ", "d"))
    return unicodedata.normalize("NFC", _COMBINING.sub("", text))


def syllables(text: str) -> list[str]:
    """Folded syllables (and numbers) of a text."""
    return re.findall(r"[a-z0-9]+", fold(text))


MAX_MARKS = 2  # combining marks kept on one letter (Vietnamese needs two in NFD: "ệ")


def one_line(text: str, limit: int) -> str:
    """Any text, even hostile, as one printable line of at most `limit` characters, "…" where
    it was cut: whitespace runs become one space; control, format (zero-width, bidi override)
    and unassigned characters are dropped, and so are marks stacked past MAX_MARKS."""
    kept: list[str] = []
    marks = 0
    for char in text:
        if char.isspace():
            char = " "
        elif unicodedata.category(char).startswith("C"):
            continue
        marks = marks + 1 if unicodedata.combining(char) else 0
        if marks <= MAX_MARKS:
            kept.append(char)
    line = " ".join("".join(kept).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# --- markup -----------------------------------------------------------------------------------

_STRUCTURE = re.compile(
    r"^(?:[IVXLC]+\s*[.\-–]\s|\d+(?:\.\d+)*\s*[.\-)](?:\s|(?=[A-ZĐ]))|[a-zđ]\)\s|[-–+•*]\s|Điều\s+\d|"
    r"Chương\s+[IVXLC\d]+|Mục\s+[IVXLC\d]+|Nơi nhận|T/?M\.?\s|KT\.\s|Số\s*:|Số\s+[\d/ -])",
)


_TABLE_RULE = re.compile(r"^\s*-{3,}(?:\s+-{3,})*\s*$")


def _columns(rule: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"-{3,}", rule)]


def _unfold_layout_tables(lines: list[str]) -> list[str]:
    """Pandoc simple tables (the two-column header and signature blocks): column by column."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _TABLE_RULE.match(lines[i]) or len(_columns(lines[i])) < 2:
            out.append(lines[i])
            i += 1
            continue
        cols = _columns(lines[i])
        end = next((j for j in range(i + 1, len(lines)) if _TABLE_RULE.match(lines[j])), None)
        if end is None:
            out.append(lines[i])
            i += 1
            continue
        cells: list[list[str]] = [[] for _ in cols]
        for row in lines[i + 1 : end]:
            bounds = [c[0] for c in cols[1:]] + [len(row) + 1]
            start = 0
            for k, stop in enumerate(bounds):
                cut = stop
                # a cell may overflow its column by a few characters: cut at a space
                while 0 < cut < len(row) and row[cut - 1] != " " and cut > start:
                    cut -= 1
                cells[k].append(row[start:cut] if k < len(cols) - 1 else row[start:])
                start = cut
        for column in cells:
            out.extend(column)
            out.append("")
        i = end + 1
    return out


_GRID_BORDER = re.compile(r"^\s*\+[-:=+]+\+\s*$")


def _unfold_grid_tables(lines: list[str]) -> list[str]:
    """Pandoc grid tables (+----+----+): column by column."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _GRID_BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        plus = [k for k, ch in enumerate(border) if ch == "+"]
        j = i
        while j < len(lines) and lines[j].lstrip()[:1] in ("+", "|"):
            j += 1
        cells: list[list[str]] = [[] for _ in plus[:-1]]
        for row in lines[i:j]:
            if _GRID_BORDER.match(row):
                continue
            for k in range(len(plus) - 1):
                cells[k].append(row[plus[k] + 1 : plus[k + 1]].strip())
        for column in cells:
            out.extend(column)
            out.append("")
        i = j
    return out


def strip_markup(text: str) -> str:
    """Remove Markdown/pandoc markup, keeping the line structure."""
    lines = _unfold_grid_tables(_unfold_layout_tables(text.split("\n")))
    text = "\n".join(lines)
    text = text.replace("<br>", " ").replace("<br/>", " ")
    text = re.sub(r"\\([-.*_#()\[\]'\"`|~])", r"\1", text)  # pandoc escapes
    text = re.sub(r"\\(?=\s|$)", "", text, flags=re.M)  # pandoc hard line break
    text = re.sub(r"^([ \t]*)\*[ \t]+(?=\S)", r"\1- ", text, flags=re.M)  # "* item" bullets
    text = text.replace("*", "")
    text = re.sub(r"(?<!\w)_\(([^\n]*?)\)_(?!\w)", r"(\1)", text)
    text = re.sub(r"^\s*#{1,6}\s*", "", text, flags=re.M)
    text = re.sub(r"^\s*[-=]{3,}(\s+[-=]{3,})*\s*$", "", text, flags=re.M)  # rules
    text = re.sub(r"^\s*\|?\s*:?-{3,}[-|: ]*$", "", text, flags=re.M)  # pipe-table separators
    return text


_SENTENCE_END = (".", ":", ";", "!", "?", "./.", "/.")


def unwrap(text: str) -> str:
    """Join hard-wrapped lines of a paragraph; blank lines and structural starts break."""
    out: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        joinable = (
            prev
            and not prev.startswith("|")
            and not line.startswith("|")
            and not prev.endswith(_SENTENCE_END)
            and not _STRUCTURE.match(line)
            and not (_is_upper(prev) and not line[0].isdigit())
        )
        if joinable:
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _is_upper(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def clean_document_text(text: str) -> str:
    """Raw file text -> normalised, markup-free, unwrapped text."""
    return unwrap(normalize(strip_markup(nfc(text))))


# --- abbreviations ----------------------------------------------------------------------------

# Written in any case: unambiguous once folded.
ABBREVIATIONS: dict[str, str] = {
    "dvhc": "đơn vị hành chính",
    "ubnd": "ủy ban nhân dân",
    "hdnd": "hội đồng nhân dân",
    "mttq": "mặt trận tổ quốc",
    "mttqvn": "mặt trận tổ quốc việt nam",
    "ubmttq": "ủy ban mặt trận tổ quốc",
    "ct-xh": "chính trị - xã hội",
    "ctxh": "chính trị - xã hội",
    "btv": "ban thường vụ",
    "bch": "ban chấp hành",
    "ubtvqh": "ủy ban thường vụ quốc hội",
    "ubtvqh15": "ủy ban thường vụ quốc hội",
    "ubkt": "ủy ban kiểm tra",
    "btg": "ban tuyên giáo",
    "vh&tt": "văn hóa và thông tin",
    "vh-tt": "văn hóa thông tin",
    "vhtt": "văn hóa thông tin",
    "vh-tt-tt": "văn hóa thông tin thể thao",
    "tt&tt": "thông tin và truyền thông",
    "cnxh": "chủ nghĩa xã hội",
    "xhcn": "xã hội chủ nghĩa",
    "tphcm": "thành phố hồ chí minh",
}

# Chat shorthand of residents: expanded in questions only.
CHAT_ABBREVIATIONS: dict[str, str] = {
    "tp": "thành phố",
    "hcm": "hồ chí minh",
    "tx": "thị xã",
    "tt": "thị trấn",
    "q": "quận",
    "h": "huyện",
    "sn": "sáp nhập",
    "ko": "không",
    "k": "không",
    "kh0": "không",
    "hok": "không",
    "dc": "được",
    "đc": "được",
    "j": "gì",
    "ng": "người",
    "nd": "nhân dân",
    "cq": "cơ quan",
    "cb": "cán bộ",
    "dv": "đảng viên",
    "bn": "bao nhiêu",
    "ntn": "như thế nào",
    "vs": "với",
    "p": "phường",
    "x": "xã",
    "xd": "xây dựng",
    "htct": "hệ thống chính trị",
}

# Only as written in capitals: in lower case they are ordinary syllables.
CAPITAL_ABBREVIATIONS: dict[str, str] = {
    "TU": "tỉnh ủy",
    "HU": "huyện ủy",
    "QU": "quận ủy",
    "ĐU": "đảng ủy",
    "TW": "trung ương",
    "NQ": "nghị quyết",
    "KH": "kế hoạch",
    "CT": "chỉ thị",
    "KL": "kết luận",
    "HD": "hướng dẫn",
    "QĐ": "quyết định",
    "CV": "công văn",
    "LS": "lạng sơn",
    "HN": "hà nội",
    "HP": "hải phòng",
    "ĐUK": "đảng ủy khối",
    "BTGTU": "ban tuyên giáo tỉnh ủy",
}

_TOKEN = re.compile(r"(?<![\w/\-&])([\wđĐ]+(?:[&\-][\wđĐ]+)*)(?![\w/\-&])")


def expand_abbreviations(text: str, *, chat: bool = False) -> str:
    """Replace standalone abbreviations by their full Vietnamese words.

    Tokens glued to '/' or '-' (document numbers such as 26-CT/TU) are left alone.
    `chat=True` also expands residents' shorthand ("ko", "sn", "p"), for questions.
    """

    text = re.sub(r"(?i)(?<!\w)b/c(?!\w)", "báo cáo", text).replace("%", " phần trăm")

    def repl(m: re.Match[str]) -> str:
        token = m.group(1)
        if token in CAPITAL_ABBREVIATIONS:
            return CAPITAL_ABBREVIATIONS[token]
        key = fold(token)
        if key in ABBREVIATIONS:
            return ABBREVIATIONS[key]
        if chat and key in CHAT_ABBREVIATIONS:
            return CHAT_ABBREVIATIONS[key]
        return token

    return _TOKEN.sub(repl, text)


@lru_cache(maxsize=1 << 12)
def match_form(text: str, *, chat: bool = False) -> str:
    """Folded text with abbreviations expanded: what lexical matching compares (a question's
    form is asked for a dozen times while it is answered)."""
    return fold(expand_abbreviations(normalize(text), chat=chat))


def lexical_tokens(text: str, *, chat: bool = False) -> list[str]:
    """Folded syllables plus adjacent pairs ("thanh_xuan"): most Vietnamese words are two
    syllables, so the pairs carry the words and the syllables the partial matches."""
    syl = re.findall(r"[a-z0-9]+", match_form(text, chat=chat))
    return syl + [f"{a}_{b}" for a, b in zip(syl, syl[1:])]


def has_diacritics(text: str) -> bool:
    return fold(text) != nfc(text).lower()


# Words of questions that official documents rarely use, in the form residents mean them.
QUESTION_WORDS: dict[str, str] = {
    "gi": "gì",
    "nao": "nào",
    "ai": "ai",
    "ky": "ký",
    "gio": "giờ",
    "la": "là",
    "khong": "không",
    "bao nhieu": "bao nhiêu",
    "the nao": "thế nào",
    "o dau": "ở đâu",
    "vi sao": "vì sao",
    "tai sao": "tại sao",
    "sao": "sao",
    "may": "mấy",
    "chua": "chưa",
    "duoc": "được",
    "nay": "này",
}


def date_vi(iso: str) -> str:
    """"2024-12-16" -> "ngày 16/12/2024"; "2024-03" -> "tháng 3/2024"; "" -> ""."""
    parts = iso.split("-")
    if len(parts) == 3:
        return f"ngày {int(parts[2])}/{int(parts[1])}/{parts[0]}"
    if len(parts) == 2:
        return f"tháng {int(parts[1])}/{parts[0]}"
    return ""
