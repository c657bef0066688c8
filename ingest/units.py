"""The units registry: which old communes and wards each new one takes.

Read from the arrangement clauses of the 2025 commune-level resolutions ("Sắp xếp toàn bộ
diện tích tự nhiên, quy mô dân số của … thành xã mới có tên gọi là xã …"), from the list of
new provinces in 60-NQ/TW and from the list of new units in 1027/CTK-CSCL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.provinces import province_key
from ingest.records import Document, OldUnit, Share, UnitChange, UnitCount
from ingest.text import fold, normalize

KINDS = ("đặc khu", "thị trấn", "phường", "xã", "huyện")
_KIND = r"(?:đặc khu|thị trấn|phường|xã|huyện)"

# The source text glues words together ("Xuân Nộithành", "là**xã", "cácxã"): pull them apart.
_GLUE_FIXES = [
    (re.compile(r"(?<=\w)(thành|sau khi|của)(?=\s|xã|phường|đặc khu)"), r" \1"),
    (re.compile(r"thành(?=xã|phường|đặc khu)"), "thành "),
    (re.compile(r"gọi\s*là(?=\S)"), "gọi là "),
    (re.compile(r"gọilà"), "gọi là"),
    (re.compile(r"(?<=[^\W\d_])và(?=\s|các|xã|phường|thị trấn|[A-ZĐÀ-Ỹ])"), " và"),
    (re.compile(r"(?<=[^\W\d_])(xã|phường)(?=\s+[A-ZĐÀ-Ỹ])"), r" \1"),
    (re.compile(r"\b(và|các)(?=xã|phường|thị trấn|một|phần|các|[A-ZĐ])"), r"\1 "),
    (re.compile(r"\b(xã|phường|Phường|thị trấn|đặc khu)(?=[A-ZĐÀ-Ỹ0-9])"), r"\1 "),
    (re.compile(r"\b(xã|phường) \1\b"), r"\1"),
    (re.compile(r"xếp(?=toàn|một|phần)"), "xếp "),
    (re.compile(r"\)(?=[^\s,.;)])"), ") "),
    (re.compile(r"(?<=\S)\("), " ("),
    (re.compile(r",(?=\S)"), ", "),
    (re.compile(r"\bcủa của\b"), "của"),
    (re.compile(r"\s+"), " "),
]

_SHARE = re.compile(
    r"(?P<remaining>phần (?:diện tích tự nhiên,? ?)?(?:quy mô dân số )?còn lại(?: của)?)"
    r"|(?P<part>một phần (?:diện tích(?: tự nhiên)?)?(?:,? ?(?:và )?(?:toàn bộ )?quy mô dân(?: số)?)?"
    r"(?: của)?)"
    r"|(?P<whole>(?:toàn )?bộ (?:diện tích(?: tự nhiên)?)?(?:,? ?(?:và )?quy mô dân(?: số)?)?(?: của)?)"
)
_AFTER = re.compile(r"\s*sau khi .*?(?:Điều này|$)")
_TARGET = re.compile(
    rf"\sthành (?:{_KIND} (?:mới )?)?(?:có tên gọi (?:là )?)?({_KIND}) (.+?)\.?$", re.I
)
_RENAME = re.compile(rf"^Đổi tên ({_KIND}) (.+?) thành ({_KIND}) (.+?)\.?$")
_ARRANGE = re.compile(r"^(?:Sắp xếp|Nhập|Sáp nhập|Hợp nhất|Thành lập)\b")
_CLAUSE = re.compile(r"^(\d+)\s*\.\s*(.+)$", re.M)
_ITEM_KIND = re.compile(rf"^(?:các )?({_KIND})\s+(.+)$", re.I)
_QUALIFIED = re.compile(r"^(.*?)\s*\(([^)]*)\)\s*$")


def repair(text: str) -> str:
    for pattern, repl in _GLUE_FIXES:
        text = pattern.sub(repl, text)
    return text.strip()


def _split_shares(body: str) -> list[tuple[Share, str]]:
    """Cut the clause body at each share marker: [(share, "các phường A, B và"), …]."""
    marks = list(_SHARE.finditer(body))
    out: list[tuple[Share, str]] = []
    for i, m in enumerate(marks):
        stop = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        out.append((m.lastgroup, body[m.end() : stop]))  # type: ignore[arg-type]
    return out


def _items(segment: str) -> list[str]:
    """"các xã A (huyện B, tỉnh C), D và E" -> ["các xã A (huyện B, tỉnh C)", "D", "E"]."""
    segment = _AFTER.sub("", segment).strip()
    segment = re.sub(r"[,;]?\s*(?:và)?\s*$", "", segment)
    shielded = re.sub(r"\([^)]*\)", lambda m: m.group(0).replace(",", "\0"), segment)
    # "thị trấn Thiên Cầm xã Nam Phúc Thăng": a kind word before a name opens the next item
    parts = re.split(r",\s*|\s+và\s+|(?<!thị)\s+(?=(?:xã|phường|thị trấn) [A-ZĐÀ-Ỹ0-9])", shielded)
    return [p.replace("\0", ",").strip() for p in parts if p.strip()]


def _parse_olds(body: str) -> list[OldUnit]:
    olds: list[OldUnit] = []
    # "Phường 1, Phường 2 và một phần Phường 4 (Quận 3)": the district that ends the list names
    # every numbered ward before it, across shares.
    pending_numbered: list[OldUnit] = []
    for share, segment in _split_shares(body):
        kind = ""
        for item in _items(segment):
            qualifier = ""
            q = _QUALIFIED.match(item)
            if q:
                item, qualifier = q.group(1), q.group(2).strip()
            k = _ITEM_KIND.match(item)
            if k:
                kind, item = k.group(1).lower(), k.group(2)
            if not kind or not item or not (item[0].isupper() or item[0].isdigit()):
                continue
            unit = OldUnit(kind=kind, name=item.strip(), share=share, qualifier=qualifier)
            olds.append(unit)
            # "Phường 6 và Phường 8 (Quận 10)": a numbered ward is named by its district.
            if unit.name.isdigit() and not qualifier:
                pending_numbered.append(unit)
            elif qualifier and unit.name.isdigit():
                for p in pending_numbered:
                    p.qualifier = qualifier
                pending_numbered = []
    last = next((o.qualifier for o in reversed(olds) if o.name.isdigit() and o.qualifier), "")
    for unit in pending_numbered:  # "…(quận Bình Thạnh), Phường 26": the clause's own district
        unit.qualifier = last
    return olds


def _new_unit(kind: str, name: str) -> tuple[str, str]:
    kind = kind.lower()
    name = name.strip().rstrip(".").strip()
    return kind, name


def parse_clause(text: str) -> tuple[str, str, list[OldUnit]] | None:
    """One numbered clause -> (new kind, new name, old units); None if it arranges nothing."""
    text = repair(text)
    rename = _RENAME.match(text)
    if rename:
        old = OldUnit(kind=rename.group(1), name=rename.group(2), share="whole")
        return (*_new_unit(rename.group(3), rename.group(4)), [old])
    if not _ARRANGE.match(text):
        return None
    target = _TARGET.search(text)
    if not target:
        return None
    olds = _parse_olds(text[: target.start()])
    if not olds:
        return None
    return (*_new_unit(target.group(1), target.group(2)), olds)


def _article_one(text: str) -> str:
    start = text.find("Điều 1.")
    end = text.find("Điều 2.", start)
    return text[start:end] if start >= 0 else ""


def extract_units(doc: Document) -> list[UnitChange]:
    """Arrangement clauses of a commune-level resolution (empty for any other document)."""
    if not doc.province or not doc.number:
        return []
    changes: list[UnitChange] = []
    for m in _CLAUSE.finditer(_article_one(doc.text)):
        parsed = parse_clause(m.group(2))
        if parsed is None:
            changes.extend(_unchanged_units(doc, m.group(1), m.group(0).strip()))
            continue
        kind, name, olds = parsed
        changes.append(
            UnitChange(
                province=doc.province,
                new_kind=kind,
                new_name=name,
                olds=olds,
                doc_id=doc.doc_id,
                number=doc.number,
                clause=m.group(1),
                date=doc.date,
                text=m.group(0).strip(),
            )
        )
    return changes


_COUNT = re.compile(
    r"^Sau khi sắp xếp,? (?:[Tt]ỉnh|[Tt]hành phố) .+? có (\d+) đơn vị hành chính cấp xã"
    r",? ?gồm ?(.+?)(?:[;.]|$)"
)


def extract_counts(doc: Document) -> list[UnitCount]:
    """"Sau khi sắp xếp, tỉnh Cà Mau có 64 đơn vị hành chính cấp xã, gồm 55 xã và 09 phường"."""
    out = []
    for m in _CLAUSE.finditer(_article_one(doc.text)):
        count = _COUNT.match(repair(m.group(2)))
        if count and doc.province:
            out.append(
                UnitCount(
                    province=doc.province, total=int(count.group(1)), breakdown=count.group(2),
                    doc_id=doc.doc_id, number=doc.number, clause=m.group(1), date=doc.date,
                    text=m.group(0).strip(),
                )
            )  # fmt: skip
    return out


_UNCHANGED = re.compile(r"không thực hiện sắp xếp(?: là|:)\s*(.+?)\.?$")


def _unchanged_units(doc: Document, clause: str, text: str) -> list[UnitChange]:
    """Units the resolution keeps as they are ("… không thực hiện sắp xếp là phường Dương Nỗ")."""
    m = _UNCHANGED.search(repair(text))
    if not m:
        return []
    olds = _parse_olds("toàn bộ " + m.group(1))
    return [
        UnitChange(
            province=doc.province,
            new_kind=o.kind,
            new_name=o.name,
            olds=[o],
            doc_id=doc.doc_id,
            number=doc.number,
            clause=clause,
            date=doc.date,
            text=text,
            unchanged=True,
        )
        for o in olds
    ]


def unmatched_clauses(doc: Document) -> list[str]:
    """Clause numbers of Điều 1 that look like arrangements but could not be read."""
    out = []
    for m in _CLAUSE.finditer(_article_one(doc.text)):
        body = m.group(2)
        if (_ARRANGE.match(body) or "Đổi tên" in body) and parse_clause(body) is None:
            out.append(m.group(1))
    return out


# --- new units (1027/CTK-CSCL) ------------------------------------------------------------------

@dataclass
class ListedUnit:
    code: str
    kind: str
    name: str
    province: str
    doc_id: str = ""  # the document that lists it (1027/CTK-CSCL)
    row: int = 0  # its "Stt" in the list


_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\d{5})\s*\|\s*(.+?)\s*\|\s*(.+?)\s*\|\s*$", re.M)


def extract_unit_list(doc: Document) -> list[ListedUnit]:
    """Rows "| Stt | Mã số | Tên đơn vị hành chính | Tỉnh |" of the 1027/CTK-CSCL appendix."""
    out = []
    for m in _ROW.finditer(doc.text):
        k = _ITEM_KIND.match(m.group(3).strip())
        if not k:
            continue
        kind, name = k.group(1).lower(), k.group(2).strip()
        out.append(ListedUnit(m.group(2), kind, name, m.group(4), doc.doc_id, int(m.group(1))))
    return out


def unit_key(kind: str, name: str, province: str) -> tuple[str, str, str]:
    """Names differ by diacritics alone ("Sơn Hà", "Sơn Hạ"): compare them unfolded."""
    name = normalize(re.sub(r"\s*-\s*", " - ", name)).lower()
    return fold(kind), name, province_key(province)


@dataclass
class CrossCheck:
    listed: int
    arranged: int
    unchanged: int
    missing_from_list: list[str] = field(default_factory=list)  # arranged, not in 1027
    not_arranged: list[str] = field(default_factory=list)  # in 1027, no clause

    @property
    def ok(self) -> bool:
        return not self.missing_from_list


def cross_check(changes: list[UnitChange], listed: list[ListedUnit]) -> CrossCheck:
    listed_keys = {unit_key(u.kind, u.name, u.province): u for u in listed}
    arranged_keys = {unit_key(c.new_kind, c.new_name, c.province): c for c in changes}
    arranged = sum(not c.unchanged for c in changes)
    return CrossCheck(
        listed=len(listed),
        arranged=arranged,
        unchanged=len(changes) - arranged,
        missing_from_list=sorted(
            f"{c.new_kind} {c.new_name} ({c.province}, {c.number} khoản {c.clause})"
            for key, c in arranged_keys.items()
            if key not in listed_keys
        ),
        not_arranged=sorted(
            f"{u.kind} {u.name} ({u.province})"
            for key, u in listed_keys.items()
            if key not in arranged_keys
        ),
    )
