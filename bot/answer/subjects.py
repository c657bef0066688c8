"""What a question was about, for the officials' statistics: the unit, province or document it
names (`subject_of`), and for a question the documents do not answer, its telling words
(`missing_words`: the rarest in the documents, spelled as the resident typed them)."""

from __future__ import annotations

from index.query import Hints
from index.store import Index
from ingest.text import fold

MISSING_WORDS = 3
# asking words that say nothing of the topic, beside the composer's stop words
ASKING = frozenset("may sau truoc dau luc bao nhieu khi nao".split())


def subject_of(mode: str, hints: Hints, index: Index) -> str:
    if mode in ("unit_lookup", "address") and hints.units:
        unit = hints.units[0]
        return f"{unit.old.kind} {unit.old.name} ({unit.change.province})"
    if mode == "unit_reverse" and hints.formed:
        formed = hints.formed[0]
        return f"{formed.new_kind} {formed.new_name} ({formed.province})"
    if mode in ("unit_count", "province_lookup") and hints.mentions:
        mention = hints.mentions[0]
        if mention.as_old and not mention.as_new:
            typed = fold(mention.key)
            return next((p for p in mention.change.olds if typed in fold(p)), mention.change.new_name)
        return mention.change.new_name
    if hints.doc_ids:
        document = index.files[hints.doc_ids[0]].document
        return document.number or document.title
    return ""


def missing_words(question: str, idf: dict[str, float], vocabulary: frozenset[str], stop: set[str]) -> str:
    """"lương giáo viên" of "Sau sáp nhập thì lương giáo viên có tăng không?": the words, or
    pairs of words, the documents never use, else the rarest ones, as the resident typed them."""
    words = [w.strip(".,;:?!()\"'") for w in question.split()]
    quiet = stop | ASKING
    folded = [f if (f := fold(w)) not in quiet else "" for w in words]
    weight = [0.0 if not f else 20.0 if f not in vocabulary else idf.get(f, 0.0) for f in folded]
    for i in range(len(words) - 1):
        if folded[i] and folded[i + 1] and f"{folded[i]}_{folded[i + 1]}" not in vocabulary:
            weight[i] = weight[i + 1] = max(weight[i], weight[i + 1], 15.0)
    ranked = sorted((i for i in range(len(words)) if weight[i] > 0), key=lambda i: -weight[i])
    return " ".join(words[i] for i in sorted(ranked[:MISSING_WORDS])).lower()  # one group whatever the case
