"""Put diacritics back on a question typed without them, from the corpus's own vocabulary.

Dense models read "phuong thanh xuan bac" poorly; "phường thanh xuân bắc" well. Each folded
syllable pair votes for its most frequent written form in the corpus, single syllables fall
back to theirs, and words the corpus never uses stay as typed.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from ingest.text import QUESTION_WORDS, fold, has_diacritics

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_QUESTION_WEIGHT = 5  # a tie-breaker: any pair the corpus uses outvotes it


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _in_code(text: str, m: re.Match[str]) -> bool:
    """Part of a document number such as 114-KH/BTCTW: left alone."""
    before = text[m.start() - 1 : m.start()]
    after = text[m.end() : m.end() + 1]
    return before in ("-", "/") or after in ("-", "/") or any(c.isdigit() for c in m.group(0))


def _same_case(typed: str, form: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    if typed[:1].isupper():
        return form[:1].upper() + form[1:]
    return form


class DiacriticsRestorer:
    def __init__(self, unigrams: dict[str, str], bigrams: dict[str, list]):
        self.unigrams = unigrams  # "xuan" -> "xuân"
        self.bigrams = bigrams  # "thanh xuan" -> ["thanh xuân", count]

    @classmethod
    def build(cls, texts: list[str]) -> DiacriticsRestorer:
        """Counts from the corpus; the question words of `ingest.text` take precedence."""
        uni: dict[str, Counter[str]] = defaultdict(Counter)
        bi: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            words = _words(text)
            for w in words:
                uni[fold(w)][w] += 1
            for a, b in zip(words, words[1:]):
                bi[f"{fold(a)} {fold(b)}"][f"{a} {b}"] += 1
        unigrams = {k: c.most_common(1)[0][0] for k, c in uni.items()}
        bigrams = {k: list(c.most_common(1)[0]) for k, c in bi.items()}
        for folded, form in QUESTION_WORDS.items():
            if " " in folded:
                bigrams[folded] = [form, 10**6]
        return cls(unigrams, bigrams)

    def restore(self, text: str) -> str:
        """Words typed without diacritics get the corpus's form; the rest stays as typed."""
        spans = [m for m in _WORD.finditer(text)]
        words = [fold(m.group(0)) for m in spans]
        votes: list[Counter[str]] = [Counter() for _ in words]
        for i, word in enumerate(words):
            if word in QUESTION_WORDS:
                votes[i][QUESTION_WORDS[word]] += _QUESTION_WEIGHT
        for i, (a, b) in enumerate(zip(words, words[1:])):
            best = self.bigrams.get(f"{a} {b}")
            if best:
                form_a, form_b = best[0].split(" ")
                votes[i][form_a] += best[1]
                votes[i + 1][form_b] += best[1]
        out, last = [], 0
        for m, word, vote in zip(spans, words, votes):
            typed = m.group(0)
            form = vote.most_common(1)[0][0] if vote else self.unigrams.get(word, word)
            if has_diacritics(typed) or _in_code(text, m) or fold(form) != word:
                form = typed
            out += [text[last : m.start()], _same_case(typed, form)]
            last = m.end()
        return "".join(out) + text[last:]

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"unigrams": self.unigrams, "bigrams": self.bigrams}, ensure_ascii=False),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> DiacriticsRestorer:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["unigrams"], data["bigrams"])
