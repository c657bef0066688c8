"""User-facing Vietnamese templates (templates.toml) and the LLM prompts (llm_*.txt)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources


@cache
def _templates() -> dict[str, dict[str, str]]:
    return tomllib.loads(resources.files(__package__).joinpath("templates.toml").read_text("utf-8"))


def template(key: str, **values: object) -> str:
    """`template("unit.whole", old=…, new=…)` -> the filled Vietnamese sentence."""
    group, name = key.split(".", 1)
    return _templates()[group][name].format(**values)


@cache
def topics() -> tuple[dict[str, object], ...]:
    """The matters the documents do not govern (topics.toml): name, folded terms, who handles."""
    data = tomllib.loads(resources.files(__package__).joinpath("topics.toml").read_text("utf-8"))
    return tuple(data["topic"])


@cache
def lexicon() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Colloquial phrases (folded) and the official words for them (lexicon.toml)."""
    data = tomllib.loads(resources.files(__package__).joinpath("lexicon.toml").read_text("utf-8"))
    return tuple((tuple(t["said"]), t["official"]) for t in data["term"])


@cache
def intent_bank() -> tuple[dict[str, object], ...]:
    """The example questions of each intent (intents.toml): the reader learns from them."""
    data = tomllib.loads(resources.files(__package__).joinpath("intents.toml").read_text("utf-8"))
    return tuple(data["intent"])


@cache
def names() -> dict[str, object]:
    """English type words and place names, and the common words that make no name (names.toml)."""
    return tomllib.loads(resources.files(__package__).joinpath("names.toml").read_text("utf-8"))


def text(name: str) -> str:
    """A prompt file of this package, e.g. `text("llm_system.txt")`."""
    return resources.files(__package__).joinpath(name).read_text("utf-8")
