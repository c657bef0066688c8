"""Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("SAPXEP_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "output"
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextmanager
def browser(width: int = 390, height: int = 844) -> Iterator[object]:
    """A browser context of that viewport. Playwright takes the profile dir as user_data_dir
    (it refuses a `--user-data-dir` argument), so this uses launch_persistent_context."""
    assert Path(CHROMIUM).exists(), (
        f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
        "(or set SAPXEP_CHROMIUM)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # fail, do not skip
        raise AssertionError("the `playwright` Python package is missing: pip install playwright") from exc
    profile = tempfile.mkdtemp(prefix="sapxep-browser-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": width, "height": height}, locale="vi-VN", timeout=20_000,
            )  # fmt: skip
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
