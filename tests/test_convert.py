"""`sapxep convert` as an official runs it (a real process, real files, the real index) and
`POST /api/convert` over real HTTP: every row gets a status, a bad file a Vietnamese error, and
no partial output is ever left behind."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from servers import running
from test_loaders import encode_cp1258
from test_webchat import context  # noqa: F401 (the phone-sized Chromium)

from bot.config import Settings
from bot.service.app import create_app

ROWS = [
    "so 7 ngo 15 duong nguyen khanh toan, p. quan hoa, q. cau giay, ha noi",
    "Phường 1, Quận 3, TP.HCM",
    "số 39 đường Nguyễn Trãi, Xã Mai Hịch, Huyện Mai Châu, Tỉnh Hoà Bình",
    "xã Tri Phương",
    "không phải địa chỉ",
    "x" * 10_000,
]


@pytest.fixture(scope="module")
def convert(settings: Settings, engine):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SAPXEP_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "convert", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    return run


def write_csv(path: Path, rows: list[str], header: str = "Địa chỉ", encoding: str = "utf-8") -> Path:
    lines = [f"Mã,{header}"] + [f'{i},"{row}"' for i, row in enumerate(rows, 1)]
    text = "\n".join(lines) + "\n"
    path.write_bytes(encode_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def test_json_gives_one_object_per_row_in_order(convert, tmp_path: Path) -> None:
    done = convert(str(write_csv(tmp_path / "in.csv", ROWS)), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["status"] for r in rows] == [
        "split", "merged", "merged", "ambiguous", "not_found", "not_found",
    ]  # fmt: skip
    assert rows[0]["new_units"] == ["Phường Cầu Giấy", "Phường Nghĩa Đô"]
    assert rows[1]["new_address"] == ["Phường Bàn Cờ, Thành phố Hồ Chí Minh"]
    assert rows[2]["new_address"] == ["số 39 đường Nguyễn Trãi, Xã Bao La, Tỉnh Phú Thọ"]
    assert rows[2]["citation"].startswith("Nghị quyết 1676/NQ-UBTVQH15, Điều 1, khoản")
    assert "Traceback" not in done.stderr


def test_the_csv_output_keeps_the_input_columns_and_opens_in_excel(convert, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "danh-sach.csv", ROWS[:3], encoding="cp1258")
    done = convert(str(source))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "danh-sach.moi.csv"
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0])[:2] == ["Mã", "Địa chỉ"] and rows[0]["status"] == "split"
    assert rows[2]["new_address"] == "số 39 đường Nguyễn Trãi, Xã Bao La, Tỉnh Phú Thọ"
    assert "Đã chuyển 3 địa chỉ" in done.stderr


def test_xlsx_in_and_out(convert, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["STT", "Dia chi cu"])
    sheet.append([1, ROWS[1]])
    book.save(tmp_path / "in.xlsx")
    done = convert(str(tmp_path / "in.xlsx"), "-o", str(tmp_path / "out.xlsx"))
    assert done.returncode == 0, done.stderr
    rows = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert rows[0][:3] == ("STT", "Dia chi cu", "new_units") and rows[1][2] == "Phường Bàn Cờ"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "không có"),
        (b"\x00\x01\x02binary\xff\xfe" * 100, "nhị phân"),
        ("Mã,Tên,Ghi chú\n1,a,b\n".encode(), "--column"),
    ],
)
def test_a_bad_file_gets_a_vietnamese_error_and_no_output(
    convert, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(content)
    done = convert(str(source))
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_an_oversized_file_is_refused_before_reading(convert, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    with source.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    done = convert(str(source))
    assert done.returncode != 0 and "MB" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def base_url(engine, settings: Settings) -> Iterator[str]:
    with running(create_app(settings)) as url:
        yield url


def test_the_api_converts_a_list(base_url: str) -> None:
    response = httpx.post(f"{base_url}/api/convert", json={"addresses": ROWS[:4]}, timeout=30)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["split", "merged", "merged", "ambiguous"]


def test_the_api_refuses_too_many_and_malformed_bodies(base_url: str) -> None:
    too_many = httpx.post(f"{base_url}/api/convert", json={"addresses": ["x"] * 1001}, timeout=30)
    assert too_many.status_code == 413 and "1000" in too_many.json()["detail"]
    malformed = httpx.post(f"{base_url}/api/convert", json={"addresses": "một chuỗi"}, timeout=30)
    assert malformed.status_code == 422


def test_the_web_chat_converts_a_pasted_list(base_url: str, context) -> None:  # noqa: F811
    """Headless Chromium on the real service (its CSP included): paste two addresses, get the
    table and a CSV to download."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base_url)
    page.click("#bulk summary")
    page.fill("#bulk-list", "\n".join(ROWS[:2]))
    page.click("#bulk-send")
    page.wait_for_selector("#bulk-result tbody tr:nth-child(2)", timeout=20_000)
    rows = page.locator("#bulk-result tbody tr").all_inner_texts()
    assert "Phường Nghĩa Đô" in rows[0] and "bị chia tách" in rows[0]
    assert "Phường Bàn Cờ, Thành phố Hồ Chí Minh" in rows[1]
    assert page.locator("#bulk-download").is_visible() and not errors
