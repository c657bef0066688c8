"""What one serving process costs: time from start to its first answer, resident memory after
answering a thousand questions, and whether torch was loaded — measured in a fresh process,
the way `sapxep serve` answers (the same engine and responder, no HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

_PROBE = """
import json, sys, time
started = time.perf_counter()
from bot.answer.engine import Engine
from bot.answer.responder import Responder
from bot.config import load_settings
questions = json.loads(sys.stdin.read())
responder = Responder(Engine(load_settings()))
responder.ask(questions[0])
first = time.perf_counter() - started
for i in range(1000):
    responder.ask(questions[i % len(questions)])
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"first_answer_s": first, "rss_mb": rss / 1024, "torch": "torch" in sys.modules}))
"""


@dataclass
class Footprint:
    first_answer_s: float
    rss_mb: float
    torch: bool


def measure(questions: list[str]) -> Footprint:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps(questions, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return Footprint(**json.loads(done.stdout.strip().splitlines()[-1]))
