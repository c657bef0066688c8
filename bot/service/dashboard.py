"""The officials' dashboard at `/admin`: what residents ask across every channel, from the one
question log. A login form trades the admin token for a session cookie (HttpOnly, Secure,
SameSite=Strict; it holds an HMAC of the token, never the token); the API keeps taking
`Authorization: Bearer`. Every panel is also a CSV table (UTF-8 with BOM, for Excel)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from bot.config import Settings
from bot.service.security import bearer_matches
from bot.state.insights import PANELS, Insights, Period

STATIC = Path(__file__).parent / "static"
COOKIE = "sapxep_admin"
SESSION_S = 8 * 3600
CHANNELS = ("", "web", "tg", "zalo", "facebook")
_LOGIN = (STATIC / "login.html").read_text(encoding="utf-8")
Days = Annotated[int, Query(ge=1, le=3650, description="số ngày gần nhất")]
Channel = Annotated[str, Query(description="web, tg, zalo, facebook; trống = mọi kênh")]
# a route using the statistics' database documents this (the app's handler answers it)
DATABASE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"description": "cơ sở dữ liệu thống kê không kết nối được (lời báo tiếng Việt)"}
}
PANEL_REPLIES = {401: {"description": "chưa đăng nhập"}, **DATABASE_DOWN}


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"sapxep-dashboard-session", hashlib.sha256).hexdigest()


def authorised(request: Request, token: str) -> bool:
    """The admin token as a Bearer header, or the session cookie the login form set."""
    if not token:
        return False
    if bearer_matches(request.headers.get("Authorization", ""), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def _login_page(message: str = "", status: int = 200) -> HTMLResponse:
    shown = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(_LOGIN.replace("<!--message-->", shown), status_code=status)


def _period(days: int, channel: str) -> Period:
    if channel not in CHANNELS:
        raise HTTPException(422, "kênh không hợp lệ: web, tg, zalo hoặc facebook")
    return Period(days=days, channel=channel)


def dashboard_router(settings: Settings, insights: Insights) -> APIRouter:
    router = APIRouter()
    token = settings.admin_token

    def require(request: Request) -> None:
        if not authorised(request, token):
            raise HTTPException(401, "cần đăng nhập bằng mã quản trị", headers={"WWW-Authenticate": "Bearer"})

    @router.get("/admin", include_in_schema=False, response_model=None)
    def admin(request: Request) -> Response:
        if not token:
            return _login_page("Chưa đặt SAPXEP_ADMIN_TOKEN: bảng điều khiển đang tắt.", 503)
        if not authorised(request, token):
            return _login_page()
        return FileResponse(STATIC / "admin.html")

    @router.post("/admin/login", include_in_schema=False, response_model=None)
    def login(password: Annotated[str, Form(max_length=512)] = "") -> Response:
        if not token or not hmac.compare_digest(password.encode(), token.encode()):
            return _login_page("Mã quản trị không đúng.", 401)
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(COOKIE, session_value(token), max_age=SESSION_S, path="/",
                            httponly=True, secure=True, samesite="strict")  # fmt: skip
        return response

    @router.post("/admin/logout", include_in_schema=False)
    def logout() -> RedirectResponse:
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, secure=True, samesite="strict")
        return response

    @router.get("/admin/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        for folder in (STATIC, STATIC / "vendor"):  # `name` holds no "/": never outside them
            if (folder / name).is_file() and name not in ("login.html", "admin.html", "index.html"):
                return FileResponse(folder / name)
        raise HTTPException(404)

    @router.get("/api/admin/insights", responses=PANEL_REPLIES)
    def panels(request: Request, days: Days = 30, channel: Channel = "") -> dict[str, Any]:
        """Every panel of the dashboard (cookie of /admin, or the admin token as Bearer)."""
        require(request)
        return insights.panels(_period(days, channel))

    @router.get("/api/admin/export/{panel}.csv", responses=PANEL_REPLIES)
    def export(request: Request, panel: str, days: Days = 30, channel: Channel = "") -> Response:
        """One panel as CSV (UTF-8 with BOM)."""
        require(request)
        if panel not in PANELS:
            raise HTTPException(404, "không có bảng này")
        rows = insights.panel(panel, _period(days, channel))
        filename = f"sapxep-{panel}-{days}ngay.csv"
        return Response(_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    return router


def _csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
