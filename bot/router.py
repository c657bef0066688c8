"""Which kind of question this is: the mode decides which composer answers it."""

from __future__ import annotations

import re
from typing import Literal

from index.query import Hints
from ingest.text import match_form

Mode = Literal["unit_lookup", "duty_lookup", "talking_points", "document_facts", "general"]

_INJECTION = re.compile(
    r"bo qua (?:\w+ ){0,3}(?:chi dan|huong dan|lenh|quy tac|yeu cau)|ignore (?:all|previous|the)"
    r"|system prompt|prompt he thong|loi nhac he thong|(?:in|hien|tiet lo)(?: ra)? (?:\w+ ){0,3}"
    r"(?:chi dan|cau lenh|prompt)|quen (?:het|di|tat ca) (?:\w+ ){0,2}(?:chi dan|huong dan|quy tac)"
    r"|dong vai|jailbreak|developer mode|che do nha phat trien|tu bay gio ban la"
)
# Words of the domain: a question with none of them, and nothing the index recognises, is
# off-topic ("giá vàng hôm nay").
_DOMAIN = re.compile(
    r"\b(?:sap xep|sap nhap|nhap|hop nhat|don vi hanh chinh|xa|phuong|thi tran|tinh|huyen|quan"
    r"|thanh pho|dia chi|ke hoach|tuyen truyen|nghi quyet|chi thi|ket luan|cong van|chinh quyen"
    r"|uy ban|hoi dong|dang|bo may|tinh gon|can bo|dang vien|chi bo|mat tran|luan diem"
    r"|nhiem vu|co quan|van ban|hanh chinh|cap xa|cap tinh|2 cap|hai cap|to chuc|ban hanh"
    r"|hoi nghi|trung uong|dai hoi|bo chinh tri|quoc hoi|chinh phu|hien phap|huong dan"
    r"|bien che|tu tuong|dan van|bao cao|gop y|chinh sach)\b"
)
_UNIT_QUESTION = re.compile(
    r"\b(?:xa|phuong|thi tran)\b.*\b(?:gio la|ten moi|dia chi moi|sap nhap|nhap (?:voi|vao)"
    r"|sau (?:khi )?sap xep|thuoc (?:xa|phuong|don vi)|thanh (?:xa|phuong) nao|con ten)"
)
_FACTS = {
    "signer": re.compile(r"\b(?:ai ky|nguoi ky|ky boi|ky ten|ai la nguoi ky)\b"),
    "date": re.compile(
        r"\b(?:ngay nao|khi nao|thoi gian nao|bao gio|ngay thang|ban hanh (?:vao )?(?:ngay|nam|thang)"
        r"|ban hanh luc)\b"
    ),
    "number": re.compile(r"\b(?:so hieu|so ky hieu|so bao nhieu|so may|mang so|co so)\b"),
    "issuer": re.compile(r"\b(?:co quan nao ban hanh|ai ban hanh|do ai|cua co quan nao)\b"),
    "bases": re.compile(r"\b(?:can cu|thuc hien (?:van ban|ke hoach|chi thi|nghi quyet) nao)\b"),
}
_DUTY = re.compile(
    r"\b(?:nhiem vu|lam gi|lam nhung gi|duoc giao|giao (?:viec|cho)|chu tri|phoi hop|trach nhiem"
    r"|phu trach|phai lam|viec gi)\b"
)
_POINTS = re.compile(r"\b(?:luan diem|thong diep|vi sao|tai sao|sao phai|y nghia|li do|ly do)\b")


def is_injection(question: str) -> bool:
    return bool(_INJECTION.search(match_form(question, chat=True)))


def is_off_topic(question: str, hints: Hints) -> bool:
    q = match_form(question, chat=True)
    return not _DOMAIN.search(q) and not (hints.units or hints.doc_ids or hints.provinces)


def looks_like_unit_question(question: str) -> bool:
    return bool(_UNIT_QUESTION.search(match_form(question, chat=True)))


def asked_facts(question: str) -> list[str]:
    q = match_form(question, chat=True)
    return [name for name, pattern in _FACTS.items() if pattern.search(q)]


_CITED_NUMBER = re.compile(
    r"\b(?:ke hoach|huong dan|nghi quyet|chi thi|ket luan|quyet dinh|cong van|thong bao)"
    r"(?: so)? (\d[\w/-]*)"
)


def names_other_document(question: str, own_numbers: list[str]) -> bool:
    """"Hướng dẫn số 11 …", "Kế hoạch 114-KH/BTCTW": a document cited by ours, not ours."""
    q = match_form(question, chat=True)
    cited = [m.group(1) for m in _CITED_NUMBER.finditer(q)]
    return any(not any(n.startswith(c) for n in own_numbers) for c in cited)


def route(question: str, hints: Hints, own_numbers: list[str] | None = None) -> Mode:
    q = match_form(question, chat=True)
    if hints.units:
        return "unit_lookup"
    if hints.doc_ids and asked_facts(question) and not names_other_document(question, own_numbers or []):
        return "document_facts"
    if _DUTY.search(q):
        return "duty_lookup"
    if _POINTS.search(q):
        return "talking_points"
    return "general"
