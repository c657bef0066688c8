"""Typed records that ingest produces and every later stage reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

Share = Literal["whole", "part", "remaining"]


@dataclass
class Reference:
    """A document cited in the text: `Nghị quyết số 37-NQ/TW ngày 24/12/2018 của Bộ Chính trị`."""

    kind: str  # "Nghị quyết", "Kế hoạch", ...
    number: str  # "37-NQ/TW"
    date: str = ""  # ISO, empty when not given
    issuer: str = ""
    basis: bool = False  # in the "Căn cứ / Thực hiện" preamble: the document implements it


@dataclass
class Signer:
    name: str = ""
    title: str = ""  # "PHÓ CHỦ TỊCH"
    authority: str = ""  # "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH"


@dataclass
class Section:
    """A node of the section tree: "II." -> "1." -> "a)" / "-"; "Điều 1" -> "khoản 22"."""

    label: str  # "II", "1", "a", "Điều 1", "khoản 22"
    heading: str  # the heading line or the first words of the item
    text: str  # the text of the node itself, without its children
    children: list[Section] = field(default_factory=list)

    @property
    def is_paragraph_item(self) -> bool:
        """A numbered paragraph rather than a titled item: its heading is its first words."""
        return self.heading.rstrip().endswith("…")

    @property
    def cite(self) -> str:
        """Citation form: "Điều 1", "khoản 22", "III. TỔ CHỨC THỰC HIỆN", "3. Phòng Nội vụ quận"."""
        if self.label.startswith(("Điều", "khoản", "điểm", "Phụ lục")):
            return self.label
        if self.is_paragraph_item:
            return f"{self.label}."
        return self.heading.strip()


def cite_path(sections: list[Section]) -> str:
    return ", ".join(s.cite for s in sections)


@dataclass
class Document:
    doc_id: str  # file name, e.g. "1656_NQ-UBTVQH15.md"
    path: str
    sha256: str
    doc_type: str = ""  # "KẾ HOẠCH", "NGHỊ QUYẾT", "CÔNG VĂN" ...
    number: str = ""  # "1656/NQ-UBTVQH15"; empty when left blank
    date: str = ""  # ISO "2025-06-16"; "2024-03" when the day is blank; empty if none
    place: str = ""
    issuer: str = ""
    subject: str = ""
    title: str = ""  # type + subject, for display
    province: str = ""  # for provincial resolutions: "Thành phố Hà Nội"
    bases: list[Reference] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    signer: Signer = field(default_factory=Signer)
    sections: list[Section] = field(default_factory=list)
    text: str = ""  # the normalised full text
    encoding: str = "utf-8"


@dataclass
class Chunk:
    chunk_id: str  # "<doc_id>#<n>"
    doc_id: str
    text: str  # the passage itself
    section: str  # citation form: "Điều 1, khoản 22" / "III. TỔ CHỨC THỰC HIỆN > 2."
    heading_path: list[str] = field(default_factory=list)
    context: str = ""  # "Kế hoạch 02-KH/BTGDUK … > III. …": prefixed for retrieval
    province: str = ""
    doc_type: str = ""

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass
class OldUnit:
    kind: str  # "xã", "phường", "thị trấn", "đặc khu"
    name: str  # "Thanh Xuân Bắc"
    share: Share
    qualifier: str = ""  # "(huyện Tràng Định)" disambiguation in the text, without brackets


@dataclass
class UnitChange:
    """One arrangement clause: the new unit and the old units it takes."""

    province: str  # new province as titled in the resolution: "Thành phố Hà Nội"
    new_kind: str
    new_name: str
    olds: list[OldUnit]
    doc_id: str
    number: str  # "1656/NQ-UBTVQH15"
    clause: str  # "22"
    date: str = ""
    text: str = ""  # the clause text
    unchanged: bool = False  # listed as "không thực hiện sắp xếp": keeps its name

    @property
    def section(self) -> str:
        return f"Điều 1, khoản {self.clause}"


@dataclass
class ProvinceChange:
    """One province-level unit of 60-NQ/TW's appendix: a merge, or a province kept as it was."""

    new_name: str  # "Tỉnh Tuyên Quang", "Thành phố Hồ Chí Minh"
    olds: list[str]  # the provinces merged, as written: ["Tỉnh Tuyên Quang", "Tỉnh Hà Giang"]
    centre: str  # where the political-administrative centre sits: "tỉnh Yên Bái hiện nay"
    doc_id: str
    number: str  # "60-NQ/TW"
    section: str  # the chunk's section: "Phụ lục, II. …, 2."
    date: str = ""
    text: str = ""
    merged: bool = True  # False: listed among the provinces "không thực hiện sáp nhập"


@dataclass
class UnitCount:
    """A resolution's closing clause: how many commune-level units a province has now."""

    province: str  # "Tỉnh Cà Mau"
    total: int
    breakdown: str  # "55 xã và 09 phường"
    doc_id: str
    number: str
    clause: str
    date: str = ""
    text: str = ""

    @property
    def section(self) -> str:
        return f"Điều 1, khoản {self.clause}"


@dataclass
class Duty:
    """What an agency must do, from a plan's TỔ CHỨC THỰC HIỆN."""

    agency: str
    tasks: list[str]
    doc_id: str
    number: str
    section: str  # "III. TỔ CHỨC THỰC HIỆN > 3."
    text: str = ""


@dataclass(frozen=True)
class OldCommune:
    """One row of the reference list of administrative units before the 2025 arrangement (the
    GSO list, danhmuchanhchinh.gso.gov.vn): a commune with its district and province."""

    province: str  # "Thành phố Hà Nội"
    province_code: str  # "01"
    district: str  # "Quận Cầu Giấy"
    district_code: str  # "005"
    kind: str  # "phường", "xã", "thị trấn"
    name: str  # "Quan Hoa"
    code: str  # "00160"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass
class Provision:
    """A dated provision the answers quote: when the new communes start working, when the
    district level ends, when the areas are published, when a resolution was passed."""

    kind: str  # "communes_start", "district_end" …: the keys of ingest/provisions.py PATTERNS
    date: str  # ISO; "" when the provision names no day ("until the new ones start")
    doc_id: str
    number: str  # "1656/NQ-UBTVQH15", "60-NQ/TW"
    section: str  # "Điều 2, khoản 2", "mục 5"
    chunk_id: str  # the passage that holds the sentence
    text: str  # the sentence
    province: str = ""  # the province a commune-level resolution is about


T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    return asdict(record)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) record from its `to_dict` form."""
    kwargs: dict[str, Any] = {}
    hints = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    for name, value in data.items():
        if name not in hints:
            continue
        kwargs[name] = _revive(hints[name].type, value)
    return cls(**kwargs)


_NESTED: dict[str, type] = {}


def _revive(annotation: Any, value: Any) -> Any:
    ann = str(annotation)
    for name, cls in _NESTED.items():
        if ann == name:
            return from_dict(cls, value)
        if ann == f"list[{name}]":
            return [from_dict(cls, v) for v in value]
    return value


_NESTED.update(
    {"Reference": Reference, "Signer": Signer, "Section": Section, "OldUnit": OldUnit}
)
