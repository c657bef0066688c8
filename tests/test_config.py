"""Configuration is checked before anything starts: a mistyped variable, a secret too short to be
one or a malformed URL gives one Vietnamese line and exit code 2; the log redactor leaves values
too short to be secrets alone."""

from __future__ import annotations

import logging
import os
import subprocess

import pytest
from service import SAPXEP

from bot.config import ConfigError, Settings, checked_settings
from bot.service.security import Redactor


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("SAPXEP_REDIS_ULR", "redis://127.0.0.1:6379/0", "Có phải ý bạn là SAPXEP_REDIS_URL?"),
        ("TELEGRAM_WEBHOOK_SECRET", "x", "TELEGRAM_WEBHOOK_SECRET quá ngắn (1 ký tự)"),
        (
            "SAPXEP_REDIS_URL",
            "localhost:6379",
            "SAPXEP_REDIS_URL=localhost:6379 không phải địa chỉ hợp lệ",
        ),
        ("SAPXEP_LLM_BASE_URL", "http://127.0.0.1:abc/v1", "không phải địa chỉ hợp lệ"),
        ("SAPXEP_DELIVERY_LEASE_S", "-5", "Giá trị «-5» của SAPXEP_DELIVERY_LEASE_S không hợp lệ"),
        ("FACEBOOK_VERIFY_TOKEN", "abc", "FACEBOOK_VERIFY_TOKEN quá ngắn (3 ký tự)"),
        (
            "FACEBOOK_PAGE_ACCESS_TOKEN",
            "EAAPageAccessToken",
            "còn thiếu FACEBOOK_APP_SECRET, FACEBOOK_VERIFY_TOKEN",
        ),
        ("FACEBOOK_API_BASE_URL", "graph.facebook.com/v21.0", "không phải địa chỉ hợp lệ"),
    ],
)
def test_a_bad_setting_stops_the_cli_with_one_line(
    tmp_path, variable: str, value: str, said: str
) -> None:
    env = {**os.environ, "SAPXEP_DATA_DIR": str(tmp_path), variable: value, "COLUMNS": "300"}
    done = subprocess.run(
        [SAPXEP, "docs"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_mistyped_variable_in_dotenv_is_caught(tmp_path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("SAPXEP_ADMIN_TOKN=abcdefgh12345\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="SAPXEP_ADMIN_TOKEN"):
        checked_settings({}, tmp_path / ".env")


def test_harness_variables_and_good_settings_pass(monkeypatch) -> None:
    monkeypatch.setenv("SAPXEP_TEST_CACHE", "/tmp/x")
    monkeypatch.setenv("SAPXEP_REDIS_URL", "redis://:pa%40ss@127.0.0.1:6380/1")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCdefGHI")
    assert isinstance(checked_settings(), Settings)


def test_values_too_short_to_be_secrets_are_not_masked() -> None:
    redactor = Redactor()
    redactor.add(["x", "python", "s3cret-value-1"])
    record = logging.LogRecord(
        "t", logging.ERROR, "p", 1, "python3.11 Exiting with s3cret-value-1", None, None
    )
    assert redactor.redact(record.getMessage()) == "python3.11 Exiting with ***"
