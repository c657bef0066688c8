"""The web chat in a real headless Chromium (Debian's `chromium`), driven by Playwright.

A small fake FastAPI app serves the same static files and a hand-built Answer, so no index is needed.
Needs: `apt-get install chromium` and `pip install playwright` (never `playwright install`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser import OUTPUT, browser
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from servers import running

from bot.channels.webchat import STATIC

QUESTION = "phường Thanh Xuân Bắc giờ là phường gì?"
ANSWER = {
    "question": QUESTION,
    "answer": (
        "Phường Thanh Xuân Bắc được sắp xếp vào phường Thanh Xuân mới [1].\n"
        "Phường Thanh Xuân mới được thành lập trên cơ sở nhập toàn bộ diện tích tự nhiên "
        "và quy mô dân số của các phường Thanh Xuân Bắc, Thanh Xuân Trung [2]."
    ),
    "refused": False,
    "mode": "units",
    "citations": [
        {
            "n": 1,
            "doc": "1656_NQ-UBTVQH15.md",
            "title": "Nghị quyết về việc sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội",
            "number": "1656/NQ-UBTVQH15",
            "date": "2025-06-16",
            "issuer": "Ủy ban Thường vụ Quốc hội",
            "section": "Điều 1, khoản 31",
            "text": "Sắp xếp toàn bộ diện tích <script>window.__pwned = true</script> "
            "của các phường Thanh Xuân Bắc, Thanh Xuân Trung thành phường Thanh Xuân.",
            "score": 0.91,
        },
        {
            "n": 2,
            "doc": "02-KH_BTGDUK.md",
            "title": "Kế hoạch tuyên truyền về sắp xếp đơn vị hành chính",
            "number": "02-KH/BTGDUK",
            "date": "2024-03",
            "issuer": "Ban Tuyên giáo và Dân vận Đảng ủy",
            "section": "Mục II",
            "text": "Tuyên truyền sâu rộng chủ trương sắp xếp đơn vị hành chính.",
            "score": 0.74,
        },
        {
            "n": 3,
            "doc": "1656_NQ-UBTVQH15.md",
            "title": "Nghị quyết về việc sắp xếp các đơn vị hành chính cấp xã của thành phố Hà Nội",
            "number": "1656/NQ-UBTVQH15",
            "date": "2025-06-16",
            "issuer": "Ủy ban Thường vụ Quốc hội",
            "section": "Điều 1, khoản 126",
            "text": "Sau khi sắp xếp, thành phố Hà Nội có 126 đơn vị hành chính cấp xã.",
            "score": 0.62,
        },
    ],
    "latency_ms": 12.5,
}


def fake_app(asked: list[dict], feedback: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.post("/api/ask")
    async def ask(request: Request) -> dict:
        body = await request.json()
        asked.append(body)
        if body["question"].startswith("Kế hoạch"):
            raise HTTPException(status_code=503, detail="Chưa có chỉ mục: chạy `sapxep ingest`.")
        return {**ANSWER, "question": body["question"]}

    @app.post("/api/feedback")
    async def give_feedback(request: Request) -> dict:
        feedback.append(await request.json())
        return {"ok": True}

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


@pytest.fixture()
def context() -> Iterator[object]:
    with browser() as opened:
        yield opened


def test_webchat_asks_renders_citations_and_sends_feedback(context) -> None:
    asked: list[dict] = []
    feedback: list[dict] = []
    errors: list[str] = []
    with running(fake_app(asked, feedback)) as base:
        context.set_default_timeout(8_000)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        try:
            page.goto(base + "/")
            assert page.title() == "Trợ lý sắp xếp đơn vị hành chính"
            assert page.locator(".chip").count() == 4
            assert page.locator("#messages").get_attribute("aria-live") == "polite"

            box = page.get_by_label("Câu hỏi của bạn")
            box.fill(QUESTION)
            box.press("Enter")

            answer = page.locator(".msg.bot:not(.typing)").last
            answer.locator(".answer-text").wait_for()
            text = answer.locator(".answer-text").inner_text()
            assert "Phường Thanh Xuân Bắc được sắp xếp vào phường Thanh Xuân mới" in text
            assert "[1]" in text and "[2]" in text
            assert page.locator(".msg.user").inner_text() == QUESTION

            # the request carried the question and the sessionStorage conversation id
            assert len(asked) == 1 and asked[0]["question"] == QUESTION
            conversation = page.evaluate("sessionStorage.getItem('sapxep.conversation')")
            assert conversation and asked[0]["conversation"] == conversation

            cards = answer.locator(".citation")
            assert cards.count() == 3
            first, second = cards.nth(0), cards.nth(1)
            assert "1656/NQ-UBTVQH15 · 16/06/2025 · Điều 1, khoản 31" in first.inner_text()
            assert "02-KH/BTGDUK · 03/2024 · Mục II" in second.inner_text()
            passage = first.locator("blockquote")
            assert not passage.is_visible() and not first.locator(".c-title").is_visible()

            answer.locator("button.cite-ref[data-n='1']").click()
            passage.wait_for(state="visible")
            assert first.locator("details").evaluate("d => d.open") is True
            assert "Nghị quyết về việc sắp xếp" in first.locator(".c-title").inner_text()
            assert "<script>window.__pwned = true</script>" in passage.inner_text()

            # the server's "<script>" stayed text: no element injected, nothing ran
            assert page.locator("#messages script").count() == 0
            assert page.locator("script").count() == 1  # the page's own
            assert page.evaluate("window.__pwned === undefined")

            answer.get_by_role("button", name="Hữu ích").click()
            page.get_by_text("Cảm ơn bạn đã góp ý!").wait_for()
            assert len(feedback) == 1
            assert feedback[0]["helpful"] is True
            assert isinstance(feedback[0]["answer_id"], str) and feedback[0]["answer_id"]
            assert answer.get_attribute("data-answer-id") == feedback[0]["answer_id"]

            # a chip asks its question with the same conversation; an HTTP error reads clearly
            page.get_by_role("button", name="Kế hoạch 02-KH/BTGDUK ai ký?").click()
            alert = page.locator(".msg.error")
            alert.wait_for()
            assert "Hệ thống chưa sẵn sàng" in alert.inner_text()
            assert "Chưa có chỉ mục" in alert.inner_text()
            assert asked[1] == {"question": "Kế hoạch 02-KH/BTGDUK ai ký?", "conversation": conversation}
            errors[:] = [e for e in errors if "503" not in e]

            # fits a phone: nothing wider than the viewport
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert errors == [], errors
        finally:
            page.close()


# rendered lines of an element's text (a line box per distinct top)
LINES = """e => { const r = document.createRange(); r.selectNodeContents(e);
                   return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"""
# glyphs only a colour-emoji font draws (Debian's Chromium without one shows empty boxes)
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


@pytest.mark.parametrize("width", [390, 1280])
def test_sources_take_a_line_each_and_feedback_needs_no_emoji_font(width: int) -> None:
    """Three sources under a two-line answer: each a line (number, date, clause; on a phone a
    long one may wrap once, between its parts), the title and quote behind "Xem đoạn trích";
    the 👍/👎 buttons are drawn icons named "Hữu ích" and "Chưa đúng"."""
    with running(fake_app([], [])) as base, browser(width, 844) as context:
        context.set_default_timeout(8_000)
        page = context.new_page()
        page.goto(base + "/")
        page.get_by_label("Câu hỏi của bạn").fill(QUESTION)
        page.get_by_label("Câu hỏi của bạn").press("Enter")
        answer = page.locator(".msg.bot:not(.typing)").last
        answer.locator(".answer-text").wait_for()
        cards = answer.locator(".citation")
        assert cards.count() == 3
        for i in range(3):
            lines = cards.nth(i).locator(".c-ref").evaluate(LINES)
            assert lines == 1 or (width < 481 and lines == 2), (width, i, lines)
            assert not cards.nth(i).locator(".c-title").is_visible()
            assert not cards.nth(i).locator("blockquote").is_visible()
        summary = cards.nth(0).locator("summary")
        assert "Xem đoạn trích" in summary.text_content()
        written = cards.nth(0).get_by_text("Xem đoạn trích").bounding_box()["width"] > 1  # not sr-only
        assert written == (width > 480)
        sources = answer.locator(".citations").bounding_box()
        assert sources["height"] < (220 if width < 481 else 180), sources

        for name in ("Hữu ích", "Chưa đúng"):
            button = answer.get_by_role("button", name=name, exact=True)
            assert not EMOJI.search(button.inner_text())
            icon = button.locator("svg path").evaluate("p => { const b = p.getBBox(); return [b.width, b.height]; }")
            assert min(icon) > 10, icon
        # the whole answer, its sources and its buttons are on one screen, even a phone's
        shown, room = answer.bounding_box(), page.locator("#messages").bounding_box()
        assert room["y"] <= shown["y"] and shown["y"] + shown["height"] <= room["y"] + room["height"]
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"webchat-{width}.png"))
        summary.click()
        cards.nth(0).locator("blockquote").wait_for(state="visible")
        page.screenshot(path=str(OUTPUT / f"webchat-{width}-source-open.png"))
