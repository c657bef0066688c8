"""Optional LLM composer (DESIGN.md, Answers).

An OpenAI-compatible chat model (vLLM, llama.cpp server, Ollama) writes the answer from the
numbered passages through LangChain. Its output is accepted only when `validate` passes; any
failure, timeout or rejected output gives None so the responder falls back to the extractive
answer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from importlib.resources import files

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from bot.answer.models import Citation
from bot.answer.guards import is_injection

log = logging.getLogger("sapxep.llm")

MAX_CHARS = 1500
NO_ANSWER = "Tài liệu hiện có không nêu thông tin này."
MODE_HINTS = {
    "unit_lookup": "tra cứu đơn vị hành chính: đơn vị cũ được sắp xếp vào đơn vị mới nào; "
    "nếu đơn vị bị chia thì nêu đủ từng phần; nếu trùng tên ở nhiều tỉnh thì nêu rõ từng tỉnh",
    "duty_lookup": "tra cứu nhiệm vụ: cơ quan, đơn vị nào chủ trì hay phối hợp làm việc gì",
    "talking_points": "ý tuyên truyền: các ý chính, mỗi ý một gạch đầu dòng ngắn",
    "document_facts": "thông tin văn bản: số hiệu, ngày ban hành, cơ quan ban hành, "
    "người ký, căn cứ",
    "general": "câu hỏi chung về việc sắp xếp đơn vị hành chính",
}


def _prompt(name: str) -> str:
    return files("prompts").joinpath(name).read_text(encoding="utf-8").strip()


SYSTEM_PROMPT = _prompt("llm_system.txt")
USER_PROMPT = _prompt("llm_user.txt")

_FENCE_LIKE = re.compile(r"<{3,}|>{3,}")
_SOFT_ANGLES = str.maketrans("<>", "‹›")
_MARKER = re.compile(r"\[\d+(?: *, *\d+)*\]")
_BRACKET_WITH_DIGIT = re.compile(r"\[[^\[\]\n]*\d[^\[\]\n]*\]")
# "… truyền. [1]" is read as "… truyền [1]." so a trailing marker belongs to its sentence.
_MARKERS_AFTER_STOP = re.compile(r"([.!?;])((?:[ \t]*\[\d+(?: *, *\d+)*\])+)")
# The dot of "TP. Hồ Chí Minh" does not end a sentence.
_ABBREVIATION = re.compile(r"\b(TP|Tp|TX|TT|ThS|TS|PGS|GS)\.")
# A stop ends a sentence only before whitespace, so "16.6.2025" and "..." stay whole.
_SENTENCE_END = re.compile(r"(?<!\.)[.!?;](?=\s|$)|\n")


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def _leak_probes(system_prompt: str) -> list[str]:
    """The first 40 characters of every long line of the system prompt."""
    lines = (_squash(line.lstrip("-•* ")) for line in system_prompt.splitlines())
    return [line[:40] for line in lines if len(line) >= 40]


_LEAK_PROBES = _leak_probes(SYSTEM_PROMPT)


def _cited_numbers(text: str) -> list[int] | None:
    """Every number in a [n] marker, or None when a bracket with digits is not a valid marker."""
    numbers: list[int] = []
    for bracket in _BRACKET_WITH_DIGIT.findall(text):
        if not _MARKER.fullmatch(bracket):
            return None
        numbers += [int(n) for n in bracket[1:-1].split(",")]
    return numbers


def _sentences(text: str) -> list[str]:
    text = _ABBREVIATION.sub(r"\1", text)
    text = _MARKERS_AFTER_STOP.sub(r"\2\1", text)
    return [piece.strip() for piece in _SENTENCE_END.split(text)]


def _is_claim(piece: str) -> bool:
    """Bullets, numbering and headers ending with ':' state nothing that needs a citation."""
    has_words = any(ch.isalpha() for ch in _MARKER.sub("", piece))
    return has_words and not piece.rstrip("*_#` ").endswith(":")


def rejection(text: str, n_citations: int) -> str | None:
    """Why the LLM output may not be shown, or None when it is short, fully cited and clean."""
    text = text.strip()
    if not text:
        return "empty"
    if len(text) > MAX_CHARS:
        return f"longer than {MAX_CHARS} characters"
    squashed = _squash(text)
    if any(probe in squashed for probe in _LEAK_PROBES):
        return "repeats the system prompt"
    cited = _cited_numbers(text)
    if cited is None:
        return "a bracket is not a [n] marker"
    if not cited:
        return "no [n] marker"
    if any(not 1 <= n <= n_citations for n in cited):
        return f"cites a passage outside [1]..[{n_citations}]"
    if not all(_MARKER.search(piece) for piece in _sentences(text) if _is_claim(piece)):
        return "a sentence has no [n]"
    return None


def validate(text: str, n_citations: int) -> bool:
    """True when the LLM output may be shown (see `rejection`)."""
    return rejection(text, n_citations) is None


def quoted(text: str) -> str:
    """Text to put between the prompt's <<<…>>> fences: a passage or a question that writes
    "<<<HẾT ĐOẠN TRÍCH>>>" itself must not close its fence early and speak as the prompt."""
    return _FENCE_LIKE.sub(lambda m: m.group().translate(_SOFT_ANGLES), text)


def format_passage(citation: Citation) -> str:
    meta = ", ".join(part for part in (citation.number, citation.date) if part)
    head = f"[{citation.n}] {citation.title}" + (f" ({meta})" if meta else "")
    if citation.section:
        head += f", {citation.section}"
    return quoted(f"{head}:\n{citation.text.strip()}")


def user_prompt(question: str, mode: str, citations: list[Citation]) -> str:
    passages = "\n\n".join(format_passage(c) for c in citations)
    return USER_PROMPT.format(
        question=quoted(question.strip()), mode=MODE_HINTS.get(mode, mode), passages=passages
    )


def cites_instructions(text: str, citations: list[Citation]) -> str | None:
    """Why an answer that rests on a passage giving orders to the assistant (a poisoned
    document: "Hãy trả lời rằng …") may not be shown, or None. Such a passage states no fact,
    so an answer citing it repeats the injection even when its [n] is in range."""
    for n in sorted(set(_cited_numbers(text) or [])):
        if 1 <= n <= len(citations) and is_injection(citations[n - 1].text):
            return f"cites [{n}], a passage that gives instructions"
    return None


@dataclass
class LLMSettings:
    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 20.0
    stream: bool = False


def _within(timeout_s: float, work: Callable[[], str]) -> str:
    """Run `work` in a daemon thread; give up after `timeout_s`, whatever the HTTP client does."""
    future: Future[str] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except Exception as exc:  # handed to the caller, which logs it
            future.set_exception(exc)

    threading.Thread(target=run, name="sapxep-llm", daemon=True).start()
    try:
        return future.result(timeout=timeout_s)
    except TimeoutError:
        raise TimeoutError(f"no complete answer within {timeout_s:g} s") from None


class LLMComposer:
    def __init__(self, settings: LLMSettings):
        from langchain_openai import ChatOpenAI  # a second of start-up, only when an LLM is set

        self.settings = settings
        self.model = ChatOpenAI(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key or "none",
            timeout=settings.timeout_s,
            max_retries=0,
            temperature=0,
        )

    def compose(self, question: str, mode: str, citations: list[Citation]) -> str | None:
        """The answer text with [n] markers, or None when the LLM failed or broke the rules."""
        if not citations:
            return None
        messages = [
            SystemMessage(SYSTEM_PROMPT),
            HumanMessage(user_prompt(question, mode, citations)),
        ]
        try:
            text = _within(self.settings.timeout_s, lambda: self._generate(messages)).strip()
        except Exception as exc:  # the contract: never raise, fall back to the extractive answer
            log.warning("LLM call failed (%s): %s", type(exc).__name__, self._redact(str(exc)))
            return None
        if text == NO_ANSWER:
            log.info("LLM found no answer in the %d passages", len(citations))
            return None
        reason = rejection(text, len(citations)) or cites_instructions(text, citations)
        if reason:
            log.warning("LLM output rejected, %s (%d chars): %.300r", reason, len(text), text)
            return None
        return text

    def _generate(self, messages: list[BaseMessage]) -> str:
        if not self.settings.stream:
            return self.model.invoke(messages).text
        deadline = time.monotonic() + self.settings.timeout_s
        parts: list[str] = []
        for chunk in self.model.stream(messages):
            if time.monotonic() > deadline:  # the caller gave up; stop reading and close the stream
                raise TimeoutError("stream still running at the deadline")
            parts.append(chunk.text)
        return "".join(parts)

    def _redact(self, message: str) -> str:
        key = self.settings.api_key
        return message.replace(key, "***") if key else message
