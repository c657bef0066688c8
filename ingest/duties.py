"""Duties: which agency must do what, read from the TỔ CHỨC THỰC HIỆN part of a document.

Plans word this part in three ways, all handled here:
  - numbered agencies: "1. Phòng Văn hóa và Thông tin quận" + "- …" items or paragraphs,
    or "1. Ban Tổ chức Huyện ủy: Theo dõi, …";
  - one addressee for every item: "Đề nghị các cấp ủy, …:" then "1- …", "2- …";
  - closing sentences: "Giao Ban Tuyên giáo … chủ trì, …", "…, đề nghị <agencies> … và báo cáo
    kết quả về …", "Báo cáo kết quả … về Đảng ủy" (the addressees of the sentence before).
Resolutions ("Điều 3. Tổ chức thực hiện") use the same forms: "Giao Chính phủ, …",
"<agencies> có trách nhiệm …".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.records import Document, Duty, Section, cite_path
from ingest.text import fold

_PART = "to chuc thuc hien"
_BULLET = re.compile(r"^[-–+•]\s*")
_MARKER = re.compile(r"^\S+[.)]\s+")
_CUE = re.compile(r"(?<![^\s,;])(?:giao|đề nghị|yêu cầu)\s+", re.IGNORECASE)
_ADDRESSEE_START = ("các ", "những ", "mọi ")

# Where the agency ends and its task begins; a strong stop wins over an earlier weak one,
# so "… liên quan đến việc thực hiện sắp xếp … có trách nhiệm" keeps its whole subject.
_STRONG = (
    "có trách nhiệm", "trong phạm vi", "chủ trì", "nghiêm túc", "chủ động", "căn cứ", "phối hợp",
)  # fmt: skip
_WEAK = (
    "tổ chức thực hiện", "tổ chức triển khai", "triển khai", "thực hiện", "tiếp tục", "chỉ đạo",
    "tăng cường", "xây dựng", "hướng dẫn", "giám sát", "báo cáo", "theo dõi",
)  # fmt: skip


def _stop(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"(?<!việc)\s*,?\s+(?=(?:{'|'.join(words)})(?!\w))")


_STRONG_STOP = _stop(_STRONG)
_WEAK_STOP = _stop(_WEAK)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_ABBREVIATION_END = re.compile(r"(?:^|\s)[A-ZĐ]{1,2}\.$")
_END_MARK = re.compile(r"\s*\./\.$")
_MAX_AGENCY_WORDS = 50


@dataclass
class _Item:
    agency: str
    body: str  # the task text
    text: str  # the whole item


def extract_duties(doc: Document) -> list[Duty]:
    """Agency -> tasks from the document's TỔ CHỨC THỰC HIỆN part; [] when it has none."""
    part = next((s for s in doc.sections if _PART in fold(s.heading)), None)
    if part is None:
        return []
    paragraphs = [p for p in part.text.split("\n") if p]
    addressee = _addressee(paragraphs)
    duties = [d for child in part.children if (d := _item_duty(doc, part, child, addressee))]
    closing = [p for p in paragraphs if not p.endswith(":")]
    return duties + _closing_duties(doc, part, closing)


# --- text helpers -----------------------------------------------------------------------------


def _sentences(paragraph: str) -> list[str]:
    """Split at sentence ends, not after "…" followed by lower case nor after "TT."."""
    out: list[str] = []
    for piece in _SENTENCE_BREAK.split(paragraph):
        if out and (not piece[:1].isupper() or _ABBREVIATION_END.search(out[-1])):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _tidy(task: str) -> str:
    """Trim list punctuation and the closing "./." of a document."""
    return _END_MARK.sub(".", task.strip(" ;,"))


def _tasks(body: str) -> list[str]:
    """Each "- " item is a task; a paragraph gives one task per sentence."""
    tasks: list[str] = []
    for line in body.split("\n"):
        if not line.strip():
            continue
        if _BULLET.match(line):
            tasks.append(_BULLET.sub("", line))
        else:
            tasks.extend(_sentences(line))
    return [t for t in map(_tidy, tasks) if t]


def _flatten(section: Section) -> str:
    """A node's text followed by its descendants', headings included."""
    parts = [section.text]
    for child in section.children:
        parts += [child.heading, _flatten(child)]
    return "\n".join(p for p in parts if p)


def _split_agency(clause: str) -> tuple[str, str] | None:
    """"Ban Tuyên giáo … chủ trì, phối hợp …" -> ("Ban Tuyên giáo …", "chủ trì, phối hợp …")."""
    stop = _STRONG_STOP.search(clause) or _WEAK_STOP.search(clause)
    if stop:
        agency, task = clause[: stop.start()], clause[stop.end() :]
    elif clause.endswith(":"):
        agency, task = clause[:-1], ""
    else:
        return None
    agency = agency.strip(" ,;")
    if not agency or len(agency.split()) > _MAX_AGENCY_WORDS:
        return None
    return agency, _tidy(task)


def _directives(sentence: str) -> list[tuple[str, str]]:
    """(agency, task) for each "giao / đề nghị / yêu cầu <agency> <task>" in a sentence."""
    cues = [m for m in _CUE.finditer(sentence) if _names_agency(sentence[m.end() :])]
    found: list[tuple[str, str]] = []
    for i, cue in enumerate(cues):
        stop = cues[i + 1].start() if i + 1 < len(cues) else len(sentence)
        if split := _split_agency(sentence[cue.end() : stop].strip()):
            found.append(split)
    return found


def _names_agency(rest: str) -> bool:
    return rest[:1].isupper() or rest.startswith(_ADDRESSEE_START)


def _strip_cue(agency: str) -> str:
    """"Đề nghị Ban Tuyên giáo Quận ủy, …" -> "Ban Tuyên giáo Quận ủy, …"."""
    cue = _CUE.match(agency)
    return agency[cue.end() :] if cue and _names_agency(agency[cue.end() :]) else agency


# --- the part's items and closing sentences ---------------------------------------------------


def _addressee(paragraphs: list[str]) -> str:
    """"Đề nghị các cấp ủy, …:" before the items: they all speak to that agency."""
    for paragraph in paragraphs:
        if paragraph.endswith(":") and (found := _directives(paragraph)):
            return found[0][0]
    return ""


def _item(child: Section, addressee: str) -> _Item | None:
    """Agency and task text of one numbered child, whichever of the three forms it takes."""
    lead = _MARKER.sub("", child.heading)
    rest = _flatten(child)
    if child.text.startswith(f"{lead}:"):  # "1. Ban Tổ chức Huyện ủy: Theo dõi, …"
        return _Item(_strip_cue(lead), rest[len(lead) + 1 :].strip(), rest)
    if not child.text.startswith(lead.rstrip("…")):  # title line: "3. Phòng Nội vụ quận"
        return _Item(_strip_cue(lead), rest, f"{lead}\n{rest}")
    if addressee:  # "1- Tiếp tục chỉ đạo, …" under "Đề nghị <addressee>:"
        return _Item(addressee, rest, rest)
    # "Giao Chính phủ, căn cứ …" / "Hội đồng Dân tộc, …, trong phạm vi …, giám sát …"
    sentence = _sentences(rest)[0]
    split = next(iter(_directives(sentence)), None) or _split_agency(sentence)
    if split is None:
        return None
    agency, task = split
    body = rest[rest.index(task) :] if task in rest else task  # the task runs to the item's end
    return _Item(agency, body, rest)


def _item_duty(doc: Document, part: Section, child: Section, addressee: str) -> Duty | None:
    item = _item(child, addressee)
    if item is None or not (tasks := _tasks(item.body)):
        return None
    return Duty(
        agency=item.agency,
        tasks=tasks,
        doc_id=doc.doc_id,
        number=doc.number,
        section=cite_path([part, child]),
        text=item.text,
    )


def _closing_duties(doc: Document, part: Section, paragraphs: list[str]) -> list[Duty]:
    """Directive sentences of the part itself; a sentence without a cue (the "Báo cáo kết quả …"
    that follows) is one more task of the agencies addressed just before."""
    duties: list[Duty] = []
    for paragraph in paragraphs:
        addressed: list[Duty] = []
        for sentence in _sentences(paragraph):
            if found := _directives(sentence):
                addressed = [_closing_duty(doc, part, *split, paragraph) for split in found]
                duties += addressed
            else:
                for duty in addressed:
                    duty.tasks.append(_tidy(sentence))
    return [d for d in duties if d.tasks]


def _closing_duty(doc: Document, part: Section, agency: str, task: str, text: str) -> Duty:
    return Duty(
        agency=agency,
        tasks=[task] if task else [],
        doc_id=doc.doc_id,
        number=doc.number,
        section=part.cite,
        text=text,
    )
