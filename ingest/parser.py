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
from dataclasses import dataclass

from ingest.casing import capitalize, is_caps, readable_case, readable_subject, sentence_case
from ingest.records import Document, Signer
from ingest.references import (
    KINDS,
    NUMBER,
    REF_DATE,
    REF_ISSUER,
    date_of,
    find_references,
    iso,
    merge_references,
)
from ingest.sections import AUTHORITY, BULLET, NOI_NHAN, build_sections, line_marker, mend
from ingest.text import fold

DOC_TYPES = frozenset(
    {
        "KẾ HOẠCH", "NGHỊ QUYẾT", "CHỈ THỊ", "CÔNG VĂN", "QUYẾT ĐỊNH", "HƯỚNG DẪN", "THÔNG BÁO",
        "BÁO CÁO", "KẾT LUẬN", "CHƯƠNG TRÌNH", "CHƯƠNG TRÌNH HÀNH ĐỘNG", "ĐỀ ÁN", "TỜ TRÌNH",
        "THÔNG TƯ", "NGHỊ ĐỊNH", "QUY ĐỊNH", "QUY CHẾ", "ĐỀ CƯƠNG", "CÔNG ĐIỆN", "THÔNG TRI",
        "LUẬT", "PHÁP LỆNH",
    }
)  # fmt: skip
_ATTACHED = re.compile(
    rf"^\((?:Ban hành\s+)?kèm theo\s+(?P<kind>{KINDS})\s+số\s+(?P<number>{NUMBER})", re.IGNORECASE
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
_SIGNATURE_LINES = 12
_APPENDIX_TOP_LINES = 20  # where an appendix says which document it belongs to


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
            header.date = iso(m["day"], m["month"], m["year"])
        elif is_caps(line) and not _is_motto(line) and not number_seen:
            issuer_lines.append(line)
    header.issuer = _header_issuer(issuer_lines)
    return header


def _find_type(lines: list[str]) -> int:
    """Index of the document-type line ("KẾ HOẠCH") before the body, or -1."""
    for i, line in enumerate(lines):
        if line_marker(line) is not None:
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
    return readable_subject(" ".join(parts)), i


def _ends_subject(line: str) -> bool:
    return bool(_PREAMBLE_START.match(line) or line_marker(line))


def _attached_origin(lines: list[str]) -> _Front | None:
    """"(Ban hành kèm theo Công văn số 1027/CTK-CSCL ngày … của Cục Thống kê)" at the top."""
    for i, line in enumerate(lines):
        if not (m := _ATTACHED.match(line)):
            continue
        date = REF_DATE.match(line, m.end())
        issuer = REF_ISSUER.match(line, date.end() if date else m.end())
        subject = " ".join(part for part in lines[:i] if part)
        return _Front(
            doc_type=m["kind"].upper(),
            number=m["number"],
            date=date_of(date) if date else "",
            issuer=issuer["issuer"].strip() if issuer else "",
            subject=readable_subject(subject),
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
    name = " ".join(capitalize(word.lower()) for word in m["name"].split())
    return f"{capitalize(m['kind'].lower())} {name}"


def _is_person_name(line: str) -> bool:
    words = line.split()
    return 2 <= len(words) <= 5 and all(w[:1].isupper() and w[1:].islower() for w in words)


def _read_recipients(lines: list[str], start: int) -> tuple[list[str], int]:
    """The "- …" lines under "Nơi nhận:", and the index after them."""
    recipients: list[str] = []
    first = NOI_NHAN.match(lines[start])
    pending = [first["rest"]] if first and first["rest"] else []
    i = start + 1
    while i < len(lines) and (not lines[i] or BULLET.match(lines[i])):
        if lines[i]:
            pending.append(lines[i])
        i += 1
    for item in pending:
        cleaned = BULLET.sub("", item).rstrip(" ,;.")
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
        if is_caps(line):
            if AUTHORITY.match(line):
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
    receive = next((i for i in range(start, len(lines)) if NOI_NHAN.match(lines[i])), None)
    signs = next(
        (i for i in range(start, len(lines)) if AUTHORITY.match(lines[i]) and is_caps(lines[i])),
        None,
    )
    if receive is None and signs is None:
        return _Tail(len(lines), len(lines), [], Signer())
    tail_start = min(i for i in (receive, signs) if i is not None)
    recipients, after = _read_recipients(lines, receive) if receive is not None else ([], start)
    signer, end = _read_signer(lines, signs if signs is not None else after)
    return _Tail(tail_start, max(end, after), recipients, signer)


def _body_start(lines: list[str], start: int) -> int:
    return next(
        (i for i in range(start, len(lines)) if (m := line_marker(lines[i])) and m.content),
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
    body = mend(lines[body_start : tail.start])
    appendix = mend(lines[tail.end :]) if tail.end < len(lines) else []

    cited_text = "\n".join([*lines[:body_start], *body, *appendix])
    references, bases = merge_references(
        find_references(cited_text), find_references(preamble), front.number
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
        title=f"{sentence_case(front.doc_type)} {front.subject}".strip(),
        province=_province(front.subject),
        bases=bases,
        references=references,
        recipients=tail.recipients,
        signer=tail.signer,
        sections=build_sections(body, appendix),
        text=text,
        encoding=encoding,
    )
