"""Structure of a Vietnamese administrative document: header, preamble, section tree, signature.

`parse_document` reads text already passed through `ingest.text.clean_document_text`:
normalised, markup-free, one paragraph a line. The layout it expects is the usual one:

    <issuer lines>  Số: <number>  <motto>  <place>, ngày … tháng … năm …
    <TYPE>
    <subject>
    <preamble: Căn cứ … / Thực hiện … / Xét đề nghị …>
    <body: I. → 1. → a) / "- " ; Điều → khoản>
    Nơi nhận: - …
    <authority lines> <title> <name>
    <appendices>
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.records import Document, Reference, Section, Signer
from ingest.text import ABBREVIATIONS, CAPITAL_ABBREVIATIONS, fold

DOC_TYPES = frozenset(
    {
        "KẾ HOẠCH", "NGHỊ QUYẾT", "CHỈ THỊ", "CÔNG VĂN", "QUYẾT ĐỊNH", "HƯỚNG DẪN", "THÔNG BÁO",
        "BÁO CÁO", "KẾT LUẬN", "CHƯƠNG TRÌNH", "CHƯƠNG TRÌNH HÀNH ĐỘNG", "ĐỀ ÁN", "TỜ TRÌNH",
        "THÔNG TƯ", "NGHỊ ĐỊNH", "QUY ĐỊNH", "QUY CHẾ", "ĐỀ CƯƠNG", "CÔNG ĐIỆN", "THÔNG TRI",
        "LUẬT", "PHÁP LỆNH",
    }
)  # fmt: skip

# Kinds of cited documents, longest first so "Báo cáo thẩm tra" wins over "Báo cáo".
REFERENCE_KINDS = tuple(
    sorted(
        {
            "Nghị quyết", "Nghị định", "Kế hoạch", "Chỉ thị", "Kết luận", "Hướng dẫn",
            "Quyết định", "Công văn", "Công điện", "Thông báo", "Thông tư", "Thông tri",
            "Quy định", "Quy chế", "Chương trình hành động", "Chương trình", "Tờ trình",
            "Đề án", "Báo cáo thẩm tra", "Báo cáo", "Đề cương", "Pháp lệnh", "Luật",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
_KINDS = "|".join(REFERENCE_KINDS)

# --- patterns ---------------------------------------------------------------------------------

_NUMBER = r"\d+(?:/\d{4})?(?:[-/][^\W_]+)+"  # 37-NQ/TW, 117/NQ-CP, 76/2025/UBTVQH15
_DATE = (
    r"(?:(?P<d>\d{1,2})\s*/\s*(?P<m>\d{1,2})\s*/\s*(?P<y>\d{4})"
    r"|(?P<wd>\d{1,2})?\s*tháng\s+(?P<wm>\d{1,2})\s+năm\s+(?P<wy>\d{4}))"
)
_REFERENCE = re.compile(
    rf"(?<!\w)(?:(?P<kind>{_KINDS})(?:\s+số)?\s*:?\s+(?P<number>{_NUMBER})"
    rf"|(?-i:(?P<law>Luật|Pháp lệnh))(?:\s+[^\s,;:.()“”\"]+){{1,10}}?"
    rf"\s+số\s+(?P<lawnumber>{_NUMBER}))",
    re.IGNORECASE,
)
_REF_DATE = re.compile(rf"\s*,?\s*ngày\s+{_DATE}")
_ISSUER_STOP = (
    r"(?=\s+(?:về|ban hành|tuyên truyền|thực hiện|triển khai|hướng dẫn|quy định|tại|để|theo|đã"
    rf"|và\s+(?i:{_KINDS}))(?!\w)|\s*(?:[\n,;:()“”\"]|\.(?:\s|$)|$))"
)
_REF_ISSUER = re.compile(rf"\s*,?\s*của\s+(?P<issuer>[^\n,;:()“”\"]+?){_ISSUER_STOP}")
_ATTACHED = re.compile(
    rf"^\((?:Ban hành\s+)?kèm theo\s+(?P<kind>{_KINDS})\s+số\s+(?P<number>{_NUMBER})", re.IGNORECASE
)

_NUMBER_LINE = re.compile(r"^Số\b\s*:?\s*(?P<value>.*)$")
_DOC_NUMBER = re.compile(r"\d+[^/\s]*/\S+")
_PLACE_DATE = re.compile(
    r"^(?P<place>[^\d,;:]{2,60}?)\s*,\s*ngày\s*(?P<day>\d{1,2})?\s*tháng\s*(?P<month>\d{1,2})"
    r"\s*năm\s*(?P<year>\d{4})"
)
_MOTTOS = ("cong hoa xa hoi chu nghia viet nam", "dang cong san viet nam", "doc lap")
_ISSUER_HEADS = (
    "ban", "uy ban", "ubnd", "hdnd", "hoi dong", "phong", "van phong", "cuc", "tong cuc", "so",
    "vu", "bo", "vien", "trung tam", "chi bo", "dang uy", "dang bo", "tinh uy", "thanh uy",
    "huyen uy", "quan uy",
)  # fmt: skip
_PREAMBLE_ISSUER = re.compile(
    r"(?:^|[,;]\s*)(?P<issuer>[^,;]{3,120}?)\s+(?:xây dựng|ban hành)\s+(?P<kind>[^\s]+\s+[^\s]+)"
)
_PROVINCE = re.compile(
    r"(?<!\w)của\s+(?P<kind>tỉnh|thành phố)\s+(?P<name>.+?)\s+năm\s+\d{4}", re.IGNORECASE
)
_PREAMBLE_START = re.compile(r"^(?:Căn cứ|Thực hiện|Xét|Theo|Trên cơ sở)\b")

_ROMAN = re.compile(r"^(?P<num>[IVX]+)\s*[.\-–]\s*(?P<rest>\S.*)$")
_ARTICLE = re.compile(r"^Điều\s+(?P<num>\d+)\s*[.:]?\s*(?P<rest>.*)$")
_NUMBERED = re.compile(r"^(?P<num>\d{1,3})(?:\.(?!\d)|\s*[-–](?=\s))\s*(?P<rest>.*)$")
_LETTER = re.compile(r"^(?P<num>[a-zđ])\)\s*(?P<rest>\S.*)$")
_APPENDIX = re.compile(r"^(?P<num>Phụ lục(?:\s+(?:[IVX]+|\d+)(?!\w))?)", re.IGNORECASE)
_BULLET = re.compile(r"^[-–+•]\s*")
_LABEL_NUMBER = re.compile(r"\d+$")
_NOI_NHAN = re.compile(r"^Nơi nhận\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
_AUTHORITY = re.compile(r"^(?:T/M|T\.M|TM|KT|TL|TUQ)(?!\w)\.?\s*\S")
_CLOSING = re.compile(
    rf"^(?:Trên đây|Giao|Đề nghị|Yêu cầu)\s|^[^,.;:]{{1,40}}?\s(?:đề nghị|yêu cầu)\s"
    rf"|^(?:{_KINDS}) này\s"
)
_LEAD = re.compile(r"^(?P<lead>[^:.;]+?):\s+\S")
_TOKEN = re.compile(r"[^\W_]+")
_ROMAN_TOKEN = re.compile(r"[IVXLC]+")
_LETTER_CHAR = re.compile(r"[^\W\d_]")

_TERMINAL = (".", ":", ";", "!", "?", "…")
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]")
_DANGLING_WORD = re.compile(r"(?:\s(?:của|và|các|những|là|số|với|về|tại|cho|theo|hoặc)|\([^)]*)$")
_UNIT_WORD = re.compile(r"\s(?:xã|phường|thị trấn|quận|huyện|tỉnh|thành phố)$")
_HEADING_WORDS = 12
_LEAD_WORDS = 20
_TITLE_WORDS = 30
_SIGNATURE_LINES = 12
_APPENDIX_TOP_LINES = 20  # where an appendix says which document it belongs to

# --- readable case ----------------------------------------------------------------------------

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


def _capitalize(word: str) -> str:
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
        out.append(_capitalize(word))
    return match.group(1) + " ".join(out)


def readable_case(caps: str, *, capitalize_first: bool = True) -> str:
    """An ALL-CAPS name or title in ordinary Vietnamese case.

    "ỦY BAN THƯỜNG VỤ QUỐC HỘI" -> "Ủy ban Thường vụ Quốc hội";
    "ĐẢNG ỦY KHỐI … TỈNH THÁI BÌNH" -> "Đảng ủy Khối … tỉnh Thái Bình".
    """
    text = _TOKEN.sub(lambda m: m[0] if _keeps_case(m[0]) else m[0].lower(), caps)
    text = _PROPER.sub(lambda m: _PROPER_NOUNS[m[1]], text)
    text = _ORG_HEAD.sub(lambda m: f"{_capitalize(m[1])} {_capitalize(m[2])}", text)
    text = _PLACE.sub(_place_name, text)
    return _capitalize(text) if capitalize_first else text


def _is_caps(line: str) -> bool:
    return line == line.upper() and _TWO_LETTERS.search(line) is not None


def _readable_subject(subject: str) -> str:
    """Put the ALL-CAPS tail of a subject ("… DANH MỤC VÀ MÃ SỐ …") in ordinary case."""
    words = subject.split()
    start = len(words)
    while start > 0 and (_is_caps(words[start - 1]) or not _has_letter(words[start - 1])):
        start -= 1
    if sum(_is_caps(w) for w in words[start:]) < 2:
        return subject
    tail = readable_case(" ".join(words[start:]), capitalize_first=False)
    return " ".join([*words[:start], tail])


def _has_letter(word: str) -> bool:
    return any(c.isalpha() for c in word)


def _sentence_case(doc_type: str) -> str:
    return _capitalize(doc_type.lower())


# --- header -----------------------------------------------------------------------------------


@dataclass
class _Front:
    """Everything before the preamble: identity of the document."""

    doc_type: str = ""
    number: str = ""
    place: str = ""
    date: str = ""
    issuer: str = ""
    subject: str = ""
    end: int = 0  # index of the first line after the subject


def _iso(day: str | None, month: str | None, year: str | None) -> str:
    if not year:
        return ""
    if not month:
        return year
    if not day:
        return f"{int(year):04d}-{int(month):02d}"
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _date_of(match: re.Match[str]) -> str:
    if match["y"]:
        return _iso(match["d"], match["m"], match["y"])
    return _iso(match["wd"], match["wm"], match["wy"])


def _clean_number(value: str) -> str:
    """"02 -KH/BTGDUK" -> "02-KH/BTGDUK"; a number left blank ("-KH/ĐU") -> ""."""
    compact = "".join(value.split()).rstrip(".")
    return compact if _DOC_NUMBER.fullmatch(compact) else ""


def _is_motto(line: str) -> bool:
    return fold(line).startswith(_MOTTOS)


def _issuer_units(lines: list[str]) -> list[str]:
    """Group the issuer column: a line that names a new body starts a unit, others continue it."""
    units: list[str] = []
    for line in lines:
        starts_body = any(f"{fold(line)} ".startswith(f"{head} ") for head in _ISSUER_HEADS)
        if units and not starts_body:
            units[-1] = f"{units[-1]} {line}"
        else:
            units.append(line)
    return units


def _header_issuer(lines: list[str]) -> str:
    """The issuing body, its parent organisations after it: "Ban Tuyên giáo Đảng ủy Khối …"."""
    units = _issuer_units(lines)
    return " ".join(readable_case(unit) for unit in reversed(units))


def _read_header(lines: list[str]) -> _Front:
    """Number, place and date, issuer from the lines above the type line."""
    header = _Front()
    issuer_lines: list[str] = []
    number_seen = False
    for line in lines:
        if m := _NUMBER_LINE.match(line):
            header.number = _clean_number(m["value"])
            number_seen = True
        elif m := _PLACE_DATE.match(line):
            header.place = m["place"].strip()
            header.date = _iso(m["day"], m["month"], m["year"])
        elif _is_caps(line) and not _is_motto(line) and not number_seen:
            issuer_lines.append(line)
    header.issuer = _header_issuer(issuer_lines)
    return header


def _find_type(lines: list[str]) -> int:
    """Index of the document-type line ("KẾ HOẠCH") before the body, or -1."""
    for i, line in enumerate(lines):
        if _marker(line) is not None:
            return -1
        if line.rstrip(" :.") in DOC_TYPES:
            return i
    return -1


def _read_subject(lines: list[str], start: int) -> tuple[str, int]:
    """The line(s) from `start` up to a blank line, the preamble or the body; and the end index."""
    i = start
    while i < len(lines) and not lines[i]:
        i += 1
    parts: list[str] = []
    while i < len(lines) and lines[i] and not _ends_subject(lines[i]):
        parts.append(lines[i])
        i += 1
    return _readable_subject(" ".join(parts)), i


def _ends_subject(line: str) -> bool:
    return bool(_PREAMBLE_START.match(line) or _marker(line))


def _attached_origin(lines: list[str]) -> _Front | None:
    """"(Ban hành kèm theo Công văn số 1027/CTK-CSCL ngày … của Cục Thống kê)" at the top."""
    for i, line in enumerate(lines):
        if not (m := _ATTACHED.match(line)):
            continue
        date = _REF_DATE.match(line, m.end())
        issuer = _REF_ISSUER.match(line, date.end() if date else m.end())
        subject = " ".join(part for part in lines[:i] if part)
        return _Front(
            doc_type=m["kind"].upper(),
            number=m["number"],
            date=_date_of(date) if date else "",
            issuer=issuer["issuer"].strip() if issuer else "",
            subject=_readable_subject(subject),
            end=i + 1,
        )
    return None


def _read_front(lines: list[str], type_index: int) -> _Front:
    """Type, number, date, issuer and subject: from the header, or from what an appendix says."""
    if type_index < 0:
        return _attached_origin(lines[:_APPENDIX_TOP_LINES]) or _Front()
    front = _read_header(lines[:type_index])
    front.doc_type = lines[type_index].rstrip(" :.")
    front.subject, front.end = _read_subject(lines, type_index + 1)
    return front


def _preamble_issuer(preamble: str, doc_type: str) -> str:
    """"…, UBND quận Thanh Xuân ban hành Kế hoạch …" -> "UBND quận Thanh Xuân"."""
    for m in _PREAMBLE_ISSUER.finditer(preamble):
        issuer = m["issuer"].strip()
        # "Thực hiện Nghị quyết số 117/NQ-CP … của Chính phủ ban hành Kế hoạch" cites, not issues
        cites = _PREAMBLE_START.match(issuer) or any(c.isdigit() for c in issuer)
        if fold(m["kind"]) == fold(doc_type) and not cites:
            return issuer
    return ""


def _province(subject: str) -> str:
    """"… CẤP XÃ CỦA THÀNH PHỐ HÀ NỘI NĂM 2025" -> "Thành phố Hà Nội"."""
    if not (m := _PROVINCE.search(subject)):
        return ""
    name = " ".join(_capitalize(word.lower()) for word in m["name"].split())
    return f"{_capitalize(m['kind'].lower())} {name}"


# --- references -------------------------------------------------------------------------------


def _find_references(text: str) -> list[Reference]:
    """Every cited document with its number, in order of appearance (not yet de-duplicated)."""
    found: list[Reference] = []
    for m in _REFERENCE.finditer(text):
        number = m["number"] or m["lawnumber"]
        if "/" not in number or not _LETTER_CHAR.search(number):
            continue
        kind = _capitalize((m["kind"] or m["law"]).lower())
        date = _REF_DATE.match(text, m.end())
        issuer = _REF_ISSUER.match(text, date.end() if date else m.end())
        found.append(
            Reference(
                kind=kind,
                number=number,
                date=_date_of(date) if date else "",
                issuer=_issuer_name(issuer["issuer"]) if issuer else "",
            )
        )
    return found


def _issuer_name(raw: str) -> str:
    """A cited issuer, or "" when the match ran on into a sentence."""
    name = " ".join(raw.split())
    return name if len(name.split()) <= 12 else ""


def _merge_references(
    found: list[Reference], bases: list[Reference], own_number: str
) -> tuple[list[Reference], list[Reference]]:
    """De-duplicate by (kind, number), completing date and issuer; mark the preamble's as bases."""
    merged: dict[tuple[str, str], Reference] = {}
    for ref in [*bases, *found]:
        if own_number and ref.number == own_number:
            continue
        key = (fold(ref.kind), fold(ref.number))
        kept = merged.setdefault(key, Reference(kind=ref.kind, number=ref.number))
        kept.date = kept.date or ref.date
        kept.issuer = kept.issuer or ref.issuer
    basis_keys = list(dict.fromkeys((fold(r.kind), fold(r.number)) for r in bases))
    for key in basis_keys:
        if key in merged:
            merged[key].basis = True
    order = list(dict.fromkeys((fold(r.kind), fold(r.number)) for r in found))
    references = [merged[k] for k in order if k in merged]
    references += [ref for k, ref in merged.items() if k not in order]
    return references, [merged[k] for k in basis_keys if k in merged]


# --- body: mending page breaks ----------------------------------------------------------------


def _is_structural(line: str) -> bool:
    marker = _marker(line)
    return bool(
        (marker and marker.content)
        or _BULLET.match(line)
        or _NOI_NHAN.match(line)
        or (_AUTHORITY.match(line) and _is_caps(line))
    )


def _continues(prev: str, line: str) -> bool:
    """Is `line` the rest of `prev`, cut by a page break the unwrapping could not see?"""
    if not prev or _is_caps(prev) or "|" in (prev[:1], line[:1]) or _is_structural(line):
        return False
    if line[0].islower() or line[0].isdigit():
        return not prev.endswith((".", ":", "!", "?", "…"))
    if prev.endswith(_TERMINAL):
        return False
    # "… của các phường" + "Chương Dương, …": a unit word waiting for its name
    return bool(_DANGLING_WORD.search(prev)) or (
        bool(_UNIT_WORD.search(prev)) and _starts_with_name(line)
    )


def _starts_with_name(line: str) -> bool:
    words = line.split()[:2]
    return len(words) == 2 and all(w[:1].isupper() for w in words)


def _mend(lines: list[str]) -> list[str]:
    """Join paragraphs split across a page break; drop blank lines."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and _continues(out[-1], line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


# --- body: section tree -----------------------------------------------------------------------


@dataclass
class _Marker:
    level: int  # 0 appendix, 1 roman / Điều, 2 numbered / khoản, 3 letter
    kind: str  # "appendix", "roman", "article", "numbered", "letter"
    num: str
    content: str


def _marker(line: str) -> _Marker | None:
    if m := _APPENDIX.match(line):
        return _Marker(0, "appendix", m["num"], line)
    if m := _ARTICLE.match(line):
        return _Marker(1, "article", m["num"], m["rest"] or f"Điều {m['num']}")
    if m := _ROMAN.match(line):
        return _Marker(1, "roman", m["num"], m["rest"])
    if m := _NUMBERED.match(line):
        return _Marker(2, "numbered", m["num"], m["rest"])
    if m := _LETTER.match(line):
        return _Marker(3, "letter", m["num"], m["rest"])
    return None


def _is_title(content: str) -> bool:
    return not content.endswith(_TERMINAL) and len(content.split()) <= _TITLE_WORDS


def _item_parts(content: str) -> tuple[str, str]:
    """(heading words, first text line) of an item: a title, a "Lead: …" item or a paragraph."""
    lead = _LEAD.match(content)
    if lead and len(lead["lead"].split()) <= _LEAD_WORDS:
        return lead["lead"], content
    if _is_title(content):
        return content, ""
    words = content.split()
    if len(words) <= _HEADING_WORDS:
        return content, content
    return " ".join(words[:_HEADING_WORDS]).rstrip(" ,.;:…") + "…", content


@dataclass
class _Open:
    level: int
    section: Section
    lines: list[str] = field(default_factory=list)


class _TreeBuilder:
    """Feeds body lines one by one and nests them by marker level."""

    def __init__(self) -> None:
        self.roots: list[Section] = []
        self.stack: list[_Open] = []

    def add(self, line: str) -> None:
        marker = _marker(line)
        if marker and marker.content and self._accepts(marker):
            self._open(marker)
        elif self.stack and self._extends_appendix_title(line):
            self.stack[-1].section.heading += f" {line}"
        else:
            self._add_text(line)

    def open_appendix(self, line: str) -> None:
        """A title after the signature starts an appendix even without "Phụ lục"."""
        self._open(_marker(line) or _Marker(0, "appendix", "Phụ lục", line))

    def sections(self) -> list[Section]:
        while self.stack:
            self._close()
        return self.roots

    def _accepts(self, marker: _Marker) -> bool:
        """A numbered line must continue its siblings' count ("2." after "55." is text)."""
        if marker.kind != "numbered":
            return True
        parent = next((o for o in reversed(self.stack) if o.level < marker.level), None)
        siblings = parent.section.children if parent else self.roots
        last = next((m for s in reversed(siblings) if (m := _LABEL_NUMBER.search(s.label))), None)
        return last is None or int(marker.num) in (int(last[0]) + 1, 1)

    def _extends_appendix_title(self, line: str) -> bool:
        top = self.stack[-1]
        return top.level == 0 and not top.lines and not top.section.children and _is_caps(line)

    def _open(self, marker: _Marker) -> None:
        while self.stack and self.stack[-1].level >= marker.level:
            self._close()
        parent = self.stack[-1] if self.stack else None
        section, first = _new_section(marker, parent.section if parent else None)
        (parent.section.children if parent else self.roots).append(section)
        self.stack.append(_Open(marker.level, section, [first] if first else []))

    def _add_text(self, line: str) -> None:
        if not self.stack:
            return
        if _CLOSING.match(line):
            # "Giao …", "Đề nghị …", "Trên đây là …" after the last item speak for the whole part
            outer = next((i for i, o in enumerate(self.stack) if o.level >= 1), len(self.stack) - 1)
            while len(self.stack) > outer + 1:
                self._close()
        self.stack[-1].lines.append(line)

    def _close(self) -> None:
        done = self.stack.pop()
        done.section.text = "\n".join(done.lines)


def _new_section(marker: _Marker, parent: Section | None) -> tuple[Section, str]:
    """The Section a marker line opens, and the text line it contributes."""
    if marker.kind == "appendix":
        return Section(label=marker.num, heading=marker.content, text=""), ""
    if marker.kind == "article":
        label = f"Điều {marker.num}"
        heading = label if marker.content == label else f"{label}. {marker.content}"
        return Section(label=label, heading=heading, text=""), ""
    words, first = _item_parts(marker.content)
    if marker.kind == "letter":
        return Section(label=marker.num, heading=f"{marker.num}) {words}", text=""), first
    in_article = parent is not None and parent.label.startswith("Điều")
    label = f"khoản {marker.num}" if in_article else marker.num
    return Section(label=label, heading=f"{marker.num}. {words}", text=""), first


def _build_sections(body: list[str], appendix: list[str]) -> list[Section]:
    builder = _TreeBuilder()
    for line in body:
        builder.add(line)
    if appendix:
        builder.open_appendix(appendix[0])
        for line in appendix[1:]:
            builder.add(line)
    return builder.sections()


# --- tail: recipients and signer --------------------------------------------------------------


def _is_person_name(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 5 and all(w[:1].isupper() and w[1:].islower() for w in words)


def _read_recipients(lines: list[str], start: int) -> tuple[list[str], int]:
    """The "- …" lines under "Nơi nhận:", and the index after them."""
    recipients: list[str] = []
    first = _NOI_NHAN.match(lines[start])
    pending = [first["rest"]] if first and first["rest"] else []
    i = start + 1
    while i < len(lines) and (not lines[i] or _BULLET.match(lines[i])):
        if lines[i]:
            pending.append(lines[i])
        i += 1
    for item in pending:
        cleaned = _BULLET.sub("", item).rstrip(" ,;.")
        if cleaned:
            recipients.append(cleaned)
    return recipients, i


def _read_signer(lines: list[str], start: int) -> tuple[Signer, int]:
    """Authority lines (TM., KT. …), the title (last caps line) and the name; index after."""
    authorities: list[str] = []
    title = ""
    for i in range(start, min(start + _SIGNATURE_LINES, len(lines))):
        line = lines[i]
        if not line:
            continue
        if _is_caps(line):
            if _AUTHORITY.match(line):
                authorities.append(line)
            else:
                title = line
        elif _is_person_name(line):
            return Signer(name=line, title=title, authority=" / ".join(authorities)), i + 1
        elif authorities or title:
            break
    return Signer(title=title, authority=" / ".join(authorities)), start


@dataclass
class _Tail:
    start: int
    end: int
    recipients: list[str]
    signer: Signer


def _read_tail(lines: list[str], start: int) -> _Tail:
    """Find "Nơi nhận" and the signature block after the body."""
    receive = next((i for i in range(start, len(lines)) if _NOI_NHAN.match(lines[i])), None)
    signs = next(
        (i for i in range(start, len(lines)) if _AUTHORITY.match(lines[i]) and _is_caps(lines[i])),
        None,
    )
    if receive is None and signs is None:
        return _Tail(len(lines), len(lines), [], Signer())
    tail_start = min(i for i in (receive, signs) if i is not None)
    recipients, after = _read_recipients(lines, receive) if receive is not None else ([], start)
    signer, end = _read_signer(lines, signs if signs is not None else after)
    return _Tail(tail_start, max(end, after), recipients, signer)


# --- document ---------------------------------------------------------------------------------


def _body_start(lines: list[str], start: int) -> int:
    return next(
        (i for i in range(start, len(lines)) if (m := _marker(lines[i])) and m.content),
        len(lines),
    )


def parse_document(
    doc_id: str, path: str, sha256: str, text: str, encoding: str = "utf-8"
) -> Document:
    """Parse cleaned document text into a `Document` with metadata, references and sections."""
    lines = [line.strip() for line in text.split("\n")]
    type_index = _find_type(lines)
    front = _read_front(lines, type_index)
    body_start = _body_start(lines, type_index + 1)
    preamble = " ".join(line for line in lines[front.end : body_start] if line)
    tail = _read_tail(lines, body_start)
    body = _mend(lines[body_start : tail.start])
    appendix = _mend(lines[tail.end :]) if tail.end < len(lines) else []

    cited_text = "\n".join([*lines[:body_start], *body, *appendix])
    references, bases = _merge_references(
        _find_references(cited_text), _find_references(preamble), front.number
    )
    return Document(
        doc_id=doc_id,
        path=path,
        sha256=sha256,
        doc_type=front.doc_type,
        number=front.number,
        date=front.date,
        place=front.place,
        issuer=front.issuer or _preamble_issuer(preamble, front.doc_type),
        subject=front.subject,
        title=f"{_sentence_case(front.doc_type)} {front.subject}".strip(),
        province=_province(front.subject),
        bases=bases,
        references=references,
        recipients=tail.recipients,
        signer=tail.signer,
        sections=_build_sections(body, appendix),
        text=text,
        encoding=encoding,
    )
