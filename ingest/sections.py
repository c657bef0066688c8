"""The body of a document as a section tree: I./II. -> 1./2. -> a)/-; Điều -> khoản; Phụ lục.
Paragraphs cut by a page break are mended first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.casing import is_caps
from ingest.records import Section
from ingest.references import KINDS

_ROMAN = re.compile(r"^(?P<num>[IVX]+)\s*[.\-–]\s*(?P<rest>\S.*)$")
_ARTICLE = re.compile(r"^Điều\s+(?P<num>\d+)\s*[.:]?\s*(?P<rest>.*)$")
_NUMBERED = re.compile(r"^(?P<num>\d{1,3})(?:\.(?!\d)|\s*[-–](?=\s))\s*(?P<rest>.*)$")
_LETTER = re.compile(r"^(?P<num>[a-zđ])\)\s*(?P<rest>\S.*)$")
_APPENDIX = re.compile(r"^(?P<num>Phụ lục(?:\s+(?:[IVX]+|\d+)(?!\w))?)", re.IGNORECASE)
BULLET = re.compile(r"^[-–+•]\s*")
_LABEL_NUMBER = re.compile(r"\d+$")
NOI_NHAN = re.compile(r"^Nơi nhận\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
AUTHORITY = re.compile(r"^(?:T/M|T\.M|TM|KT|TL|TUQ)(?!\w)\.?\s*\S")
_CLOSING = re.compile(
    rf"^(?:Trên đây|Giao|Đề nghị|Yêu cầu)\s|^[^,.;:]{{1,40}}?\s(?:đề nghị|yêu cầu)\s"
    rf"|^(?:{KINDS}) này\s"
)
_LEAD = re.compile(r"^(?P<lead>[^:.;]+?):\s+\S")
_TERMINAL = (".", ":", ";", "!", "?", "…")
_DANGLING_WORD = re.compile(r"(?:\s(?:của|và|các|những|là|số|với|về|tại|cho|theo|hoặc)|\([^)]*)$")
_UNIT_WORD = re.compile(r"\s(?:xã|phường|thị trấn|quận|huyện|tỉnh|thành phố)$")
_HEADING_WORDS = 12
_LEAD_WORDS = 20
_TITLE_WORDS = 30


def _is_structural(line: str) -> bool:
    marker = line_marker(line)
    return bool(
        (marker and marker.content)
        or BULLET.match(line)
        or NOI_NHAN.match(line)
        or (AUTHORITY.match(line) and is_caps(line))
    )


def _continues(prev: str, line: str) -> bool:
    """Is `line` the rest of `prev`, cut by a page break the unwrapping could not see?"""
    if not prev or is_caps(prev) or "|" in (prev[:1], line[:1]) or _is_structural(line):
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


def mend(lines: list[str]) -> list[str]:
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


@dataclass
class _Marker:
    level: int  # 0 appendix, 1 roman / Điều, 2 numbered / khoản, 3 letter
    kind: str  # "appendix", "roman", "article", "numbered", "letter"
    num: str
    content: str


def line_marker(line: str) -> _Marker | None:
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
        marker = line_marker(line)
        if marker and marker.content and self._accepts(marker):
            self._open(marker)
        elif self.stack and self._extends_appendix_title(line):
            self.stack[-1].section.heading += f" {line}"
        else:
            self._add_text(line)

    def open_appendix(self, line: str) -> None:
        """A title after the signature starts an appendix even without "Phụ lục"."""
        self._open(line_marker(line) or _Marker(0, "appendix", "Phụ lục", line))

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
        return top.level == 0 and not top.lines and not top.section.children and is_caps(line)

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


def build_sections(body: list[str], appendix: list[str]) -> list[Section]:
    builder = _TreeBuilder()
    for line in body:
        builder.add(line)
    if appendix:
        builder.open_appendix(appendix[0])
        for line in appendix[1:]:
            builder.add(line)
    return builder.sections()
