"""Which document a question means when it names none by number or place: "kế hoạch tuyên
truyền xây dựng Đảng năm 2023 của Huyện ủy", "KH của BTV ĐUK về Nghị quyết 18". Each document is
known by what its parser read — issuer, subject, type, year — and the words that tell it apart
weigh most (IDF over the documents)."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ingest.records import Document
from ingest.text import lexical_tokens

# the question must speak of a document at all
_DOCUMENT_WORD = re.compile(r"\b(?:ke hoach|nghi quyet|chi thi|cong van|huong dan|van ban)\b")
_CITED_NUMBER = re.compile(r"\b\d+[-/][a-z]")
MIN_SCORE = 6.0  # IDF weight of the shared words, calibrated on the dev sets
MIN_MARGIN = 1.3  # the best must outweigh the second by this factor


@dataclass
class DocumentProfiles:
    tokens: dict[str, frozenset[str]]  # doc_id -> folded syllables and pairs
    idf: dict[str, float]

    @classmethod
    def build(cls, documents: list[Document]) -> DocumentProfiles:
        tokens = {
            d.doc_id: frozenset(lexical_tokens(f"{d.doc_type} {d.issuer} {d.subject} {d.date[:4]}"))
            for d in documents
        }
        df = Counter(t for profile in tokens.values() for t in profile)
        n = max(len(tokens), 1)
        return cls(tokens, {t: math.log(n / c) for t, c in df.items()})

    def best(self, question_form: str, question_tokens: set[str]) -> str | None:
        """The one document the question describes, or None when none stands out."""
        if not _DOCUMENT_WORD.search(question_form) or _CITED_NUMBER.search(question_form):
            return None  # a document cited by number that is not ours is no description
        scores = sorted(
            ((sum(self.idf[t] for t in question_tokens & profile), doc_id)
             for doc_id, profile in self.tokens.items()),
            reverse=True,
        )  # fmt: skip
        if not scores or scores[0][0] < MIN_SCORE:
            return None
        if len(scores) > 1 and scores[0][0] < MIN_MARGIN * scores[1][0]:
            return None
        return scores[0][1]
