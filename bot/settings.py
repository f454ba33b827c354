"""All settings in one place: environment variables, with `.env` support."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file and uploads live")
    database_url: str = Field(default="", description="SQLAlchemy URL; default: SQLite under DATA_DIR")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_base_url: str = Field(default="", description="Public https URL of this server (webhooks)")
    log_level: str = "INFO"
    telegram_bot_token: str = ""
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API base URL; the token is appended"
    )
    telegram_mode: str = Field(default="polling", description="polling, or webhook on this server")
    telegram_webhook_secret: str = Field(default="", description="X-Telegram-Bot-Api-Secret-Token in webhook mode")
    telegram_webhook_path: str = Field(default="/telegram/webhook", description="Where Telegram posts updates")
    telegram_send_rate: float = Field(
        default=30.0, ge=0, description="Messages a second this process sends to Telegram at most (0: no limit)"
    )
    inbox_lease_seconds: int = Field(
        default=60, ge=1, le=3600, description="An update claimed by a process that died is taken again after this"
    )
    staff_telegram_chat_id: str = Field(
        default="", description="Telegram chat id of the staff group: new and overdue feedback is announced there"
    )
    zalo_app_id: str = Field(default="", description="Zalo app id; Zalo OA is served when it is set")
    zalo_app_secret: str = Field(default="", description="Zalo app secret key, for token refresh")
    zalo_oa_secret_key: str = Field(default="", description="Zalo OA secret key, for webhook signatures")
    zalo_access_token: str = Field(default="", description="First OA access token; later ones live in the database")
    zalo_refresh_token: str = Field(default="", description="First OA refresh token; later ones live in the database")
    zalo_webhook_path: str = Field(default="/zalo/webhook", description="Where Zalo posts events")
    zalo_api_base_url: str = Field(default="https://openapi.zalo.me", description="Zalo OA API base URL")
    zalo_oauth_base_url: str = Field(default="https://oauth.zaloapp.com", description="Zalo OAuth base URL")
    webchat_origins: str = Field(
        default="", description="Portal origins allowed to embed the web chat (comma-separated https://… origins)"
    )

    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Addresses of reverse proxies whose X-Forwarded-For names the client (comma-separated)",
    )
    dashboard_idle_minutes: int = Field(
        default=30, ge=1, le=1440, description="Staff dashboard: a session unused this long ends"
    )
    dashboard_session_hours: int = Field(
        default=12, ge=1, le=168, description="Staff dashboard: a session ends this long after login, used or not"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return v

    @field_validator("telegram_mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in {"polling", "webhook"}:
            raise ValueError("must be polling or webhook")
        return v

    @field_validator("telegram_api_base_url")
    @classmethod
    def _api(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org/bot")
        return v

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, '_' and '-' (Telegram's rule)")
        return v

    @field_validator("zalo_api_base_url", "zalo_oauth_base_url")
    @classmethod
    def _zalo_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://openapi.zalo.me")
        return v.rstrip("/")

    @field_validator("zalo_app_id")
    @classmethod
    def _zalo_app(cls, v: str) -> str:
        v = v.strip()
        if v and not re.fullmatch(r"\d{1,32}", v):
            raise ValueError("must be the app's numeric id from developers.zalo.me")
        return v

    @field_validator("telegram_webhook_path", "zalo_webhook_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_/.-]*", v):
            raise ValueError("must be a URL path such as /telegram/webhook or /zalo/webhook")
        return v

    @field_validator("staff_telegram_chat_id")
    @classmethod
    def _staff_chat(cls, v: str) -> str:
        v = v.strip()
        if v and not re.fullmatch(r"-?\d{1,20}", v):
            raise ValueError("must be a Telegram chat id such as -1001234567890")
        return v

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and "://" not in v:
            raise ValueError("must be an SQLAlchemy URL such as sqlite:///data/app.db")
        return v

    def telegram_webhook_url(self) -> str:
        """The public address Telegram posts to; checks the settings webhook mode needs."""
        if not self.telegram_webhook_secret:
            raise SettingsError("setting TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        if not self.public_base_url.startswith("https://"):
            raise SettingsError("setting PUBLIC_BASE_URL must be an https:// address when TELEGRAM_MODE=webhook")
        return self.public_base_url.rstrip("/") + self.telegram_webhook_path

    def check_zalo(self) -> None:
        """The settings serving Zalo needs (when ZALO_APP_ID is set)."""
        for name in ("zalo_app_secret", "zalo_oa_secret_key"):
            if not getattr(self, name):
                raise SettingsError(f"setting {name.upper()} is required when ZALO_APP_ID is set")
        if self.zalo_webhook_path == self.telegram_webhook_path:
            raise SettingsError("setting ZALO_WEBHOOK_PATH must differ from TELEGRAM_WEBHOOK_PATH")

    @property
    def secrets(self) -> tuple[str, ...]:
        """What logs never show."""
        return (
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.zalo_app_secret,
            self.zalo_oa_secret_key,
            self.zalo_access_token,
            self.zalo_refresh_token,
        )

    @property
    def secure_cookies(self) -> bool:
        """Cookies marked Secure when the app is reached over https."""
        return self.public_base_url.startswith("https://")

    @property
    def chat_origins(self) -> frozenset[str]:
        """The origins allowed to use the web chat's API from a browser, besides the app's own."""
        return frozenset(o.strip().rstrip("/") for o in self.webchat_origins.split(",") if o.strip())

    @property
    def proxies(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def staff_chat(self) -> str | None:
        return self.staff_telegram_chat_id or None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'app.db').as_posix()}"


def load_settings(**overrides) -> Settings:
    """Read the settings, turning a validation error into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        raise SettingsError(f"setting {name} is invalid: {err['msg']}") from None
