"""Typed settings: `CHARTER_*` environment variables, then an optional `charter.toml`, then defaults.

Built once by the composition root (`charter.bootstrap`), never at import time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from charter.core import egress
from charter.core.periods import parse_holidays

KEY_MAX_DAYS_DEFAULT = 365


class Settings(BaseSettings):
    """Every knob Charter reads. Names map to `CHARTER_<NAME>` env vars or keys of `charter.toml`."""

    model_config = SettingsConfigDict(env_prefix="CHARTER_", toml_file="charter.toml", extra="forbid")

    home: Path = Field(default=Path(".charter"), description="Data dir: SQLite DB, signing keys.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite in the data dir. PostgreSQL: postgresql+psycopg://…",
    )
    database_schema: str | None = Field(
        default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="PostgreSQL schema (search_path) to use."
    )
    host: str = Field(default="127.0.0.1", description="Address `charter serve` / `charter gateway` listen on.")
    port: int = Field(default=8400, ge=1, le=65535, description="Port of `charter serve` (its --port sets it).")
    gateway_port: int = Field(default=8401, ge=1, le=65535, description="Port of `charter gateway` (its --port).")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+(/[^\s]*)?$",
        description="The URL clients reach this deployment at (a load balancer's, in scale-out): license tokens "
        "(`iss`), status lists, JWKS and checkpoint origins name it. Unset: http://HOST:PORT of the process itself, "
        "as it listens (127.0.0.1 for a wildcard host).",
    )
    environment: Literal["development", "production", "test"] = "development"
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="Largest accepted API request body.")
    upload_max_bytes: int = Field(default=1 << 30, ge=1024, description="Largest accepted file upload.")
    checkpoint_interval_s: float = Field(default=1.0, gt=0)
    status_list_ttl_s: int = Field(default=300, ge=10)
    degraded_grace_s: int = Field(default=900, ge=0)
    scheduler_interval_s: float = Field(default=30.0, gt=0)
    propagation_poll_s: float = Field(default=0.5, gt=0)
    monitor_window_s: float = Field(default=3600.0, gt=0, description="Length of a monitoring capture window.")
    monitor_flush_s: float = Field(default=60.0, gt=0, description="How often captured sketches are written.")
    monitor_check_s: float = Field(default=300.0, gt=0, description="Interval of the scheduled monitoring check.")
    audit_batch_max: int = Field(default=500, ge=1)
    audit_batch_wait_ms: float = Field(default=2.0, ge=0)
    demo_models_url: str = Field(
        default="http://127.0.0.1:9100",
        pattern=r"^http://[^/\s:]+:[0-9]{1,5}$",
        description="Where `python -m charter.demo.models` listens and where `charter demo` points its deployments.",
    )
    webhook_url: str | None = None
    webhook_secret: str | None = None
    upstream_allow: str | None = Field(
        default=None,
        description="Comma-separated hosts, '*.suffix' patterns, IPs and CIDRs that model upstreams and the webhook "
        "may point at; unset: any host except link-local and cloud-metadata ones.",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="Comma-separated proxy addresses (or '*') whose X-Forwarded-For/-Proto headers are trusted; "
        "unset: none, the TCP peer is the client.",
    )
    header_timeout_s: float = Field(default=10.0, gt=0, description="Time a client has to send a request's headers.")
    body_timeout_s: float = Field(default=60.0, gt=0, description="Time a client has to send a request's body.")
    keep_alive_s: float = Field(default=5.0, gt=0, description="Idle time before a keep-alive connection is closed.")
    max_header_bytes: int = Field(default=64 << 10, ge=4096, description="Largest accepted request head (bytes).")
    gateway_refusal_summary_s: float = Field(
        default=60.0, gt=0, description="Period of the audit entry counting refused keyless/unknown gateway calls."
    )
    witnesses: str = Field(
        default="",
        description="Witnesses the audit log submits its checkpoints to: WITNESS_KEY@URL, comma-separated.",
    )
    witness_quorum: int = Field(default=0, ge=0, description="How many witnesses must cosign (0: all of them).")
    authz_grpc_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Also serve Envoy's gRPC ext_authz (envoy.service.auth.v3.Authorization/Check) on this port.",
    )
    key_max_days: int = Field(
        default=KEY_MAX_DAYS_DEFAULT,
        ge=1,
        le=3650,
        description="Longest lifetime of a created API key, in days: a key asked for without an expiry gets this "
        "one; a longer one is refused.",
    )
    holidays: str = Field(
        default="",
        description="Public holidays for Art. 73 reporting deadlines (Reg. 1182/71 Art. 3(4)): comma-separated "
        "YYYY-MM-DD dates, or @PATH to a file with one date per line.",
    )
    incident_authority: str | None = Field(
        default=None,
        max_length=300,
        description="The market surveillance authority serious incidents are reported to (Art. 73(1)); unset: "
        "'the market surveillance authority of the Member State where the incident occurred'.",
    )
    log_level: str = "info"
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    login_rate_per_minute: int = Field(default=10, ge=1)

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError("CHARTER_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value

    @field_validator("upstream_allow")
    @classmethod
    def _check_allow(cls, value: str | None) -> str | None:
        try:
            egress.parse_allow(value)
        except ValueError as exc:
            raise ValueError(f"CHARTER_UPSTREAM_ALLOW: {exc}") from None
        return value or None

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.webhook_url:
            why = egress.url_refusal(self.webhook_url, self.upstream_allowlist, base=False)
            if why is not None:
                raise ValueError(f"CHARTER_WEBHOOK_URL: {why}")
        return self

    @property
    def holiday_dates(self) -> frozenset[date]:
        """CHARTER_HOLIDAYS, parsed (a leading @ reads the dates from that file)."""
        text = self.holidays.strip()
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8")
        return parse_holidays(text)

    @property
    def upstream_allowlist(self) -> egress.Allow:
        """CHARTER_UPSTREAM_ALLOW, parsed."""
        return egress.parse_allow(self.upstream_allow)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'charter.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        del dotenv_settings, file_secret_settings
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def public_url(settings: Settings, *, gateway: bool = False) -> str:
    """CHARTER_PUBLIC_URL, else the address this process listens on (`charter gateway`: CHARTER_GATEWAY_PORT)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.gateway_port if gateway else settings.port}"
