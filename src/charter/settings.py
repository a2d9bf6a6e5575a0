"""Typed settings: `CHARTER_*` environment variables, then an optional `charter.toml`, then defaults.

Built once by the composition root (`charter.bootstrap`), never at import time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from charter.core import egress
from charter.core.errors import InvalidInput
from charter.core.periods import parse_holidays

KEY_MAX_DAYS_DEFAULT = 365
CHAT_FORMATS = ("slack", "mattermost", "teams")


class Settings(BaseSettings):
    """Every knob Charter reads. Names map to `CHARTER_<NAME>` env vars or keys of `charter.toml`."""

    model_config = SettingsConfigDict(env_prefix="CHARTER_", toml_file="charter.toml", extra="forbid")
    _holidays: frozenset[date] = PrivateAttr(default_factory=frozenset)

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
    control_catalogs: Path | None = Field(
        default=None,
        description="A control-catalogs YAML used instead of the built-in one (classification, obligations).",
    )
    licensing: Path | None = Field(
        default=None,
        description="A licensing document used instead of the built-in one (e.g. one that requires a FRIA and a "
        "post-market plan through `obligation_documents`).",
    )
    chromium: str | None = Field(
        default=None,
        description="Chromium executable (name or path) for PDF reports; unset: the first of chromium, "
        "chromium-browser, google-chrome on PATH.",
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="Largest accepted API request body.")
    upload_max_bytes: int = Field(default=1 << 30, ge=1024, description="Largest accepted file upload.")
    max_answer_bytes: int = Field(
        default=64 << 20, ge=1024, description="Largest model-server answer the gateway reads (whole or streamed)."
    )
    checkpoint_interval_s: float = Field(default=1.0, gt=0)
    status_list_ttl_s: int = Field(default=300, ge=10)
    degraded_grace_s: int = Field(default=900, ge=0)
    scheduler_interval_s: float = Field(default=30.0, gt=0)
    propagation_poll_s: float = Field(default=0.5, gt=0)
    monitor_window_s: float = Field(default=3600.0, gt=0, description="Length of a monitoring capture window.")
    monitor_flush_s: float = Field(default=60.0, gt=0, description="How often captured sketches are written.")
    monitor_check_s: float = Field(default=300.0, gt=0, description="Interval of the scheduled monitoring check.")
    monitor_gateway_min_calls: int = Field(
        default=20, ge=1, description="Calls a window needs before its gateway.* rates have a value."
    )
    audit_batch_max: int = Field(default=500, ge=1)
    audit_batch_wait_ms: float = Field(default=2.0, ge=0)
    demo_models_url: str = Field(
        default="http://127.0.0.1:9100",
        pattern=r"^http://[^/\s:]+:[0-9]{1,5}$",
        description="Where `python -m charter.demo.models` listens and where `charter demo` points its deployments.",
    )
    webhook_url: str | None = None
    webhook_secret: str | None = None
    smtp_host: str | None = Field(default=None, description="SMTP server for email notifications; unset: no email.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 submission, 465 implicit TLS).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (upgrade, required), tls (implicit, port 465) or none (loopback relays only).",
    )
    smtp_user: str | None = Field(default=None, description="SMTP login; unset: no authentication.")
    smtp_password: str | None = Field(default=None, description="SMTP password (never logged).")
    smtp_from: str | None = Field(default=None, description="From address of notification emails.")
    smtp_ca_file: Path | None = Field(default=None, description="CA bundle for the SMTP server (a private CA).")
    chat_webhooks: str | None = Field(
        default=None,
        description="Chat channels for notifications: FORMAT=URL, comma-separated; FORMAT is slack, mattermost or "
        "teams (a Teams Workflows webhook).",
    )
    notify_routes: str | None = Field(
        default=None,
        description="Who is emailed about what, overriding the built-in routes: EVENT=ROLE+ROLE;… (EVENT may end "
        "in .*), e.g. 'license.suspend=admin+senior-engineer'.",
    )
    notify_digest_minutes: int = Field(
        default=0, ge=0, le=1440, description="Gather each person's emails for this many minutes into one (0: at once)."
    )
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
    password_login: bool = Field(
        default=True,
        description="Whether the dashboard accepts user name + password sign-in; false leaves single sign-on (and "
        "API keys) as the ways in.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s?#]+(/[^\s?#]*)?$",
        description="OpenID Provider for dashboard single sign-on, exactly as its discovery document names itself "
        "(https://; http:// only on loopback); unset: no single sign-on.",
    )
    oidc_client_id: str | None = Field(default=None, max_length=300, description="Charter's client id at the provider.")
    oidc_client_secret: str | None = Field(
        default=None, description="Client secret (never logged); unset: a public client (PKCE only)."
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="Scopes asked for, space-separated; must include openid (add the one carrying groups if needed).",
    )
    oidc_redirect_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+(/[^\s]*)?$",
        description="Base URL the provider sends browsers back to (BASE/login/oidc/callback); unset: the public URL.",
    )
    oidc_groups: str | None = Field(
        default=None,
        description="Provider groups → Charter roles and teams, as a JSON or YAML mapping: GROUP: ENTRY or "
        "[ENTRY, …], ENTRY being ROLE, ROLE(FUNCTION), ROLE@team:NAME, ROLE@system:NAME or team:NAME (membership), "
        "e.g. '{ml-platform: senior-engineer@team:ml}'. Re-applied at every sign-in.",
    )
    oidc_groups_claim: str = Field(
        default="groups",
        pattern=r"^[A-Za-z0-9_:./-]{1,200}$",
        description="The ID token / userinfo claim holding the user's groups (dots for nested: realm_access.roles).",
    )

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
    def _load_holidays(self) -> Settings:
        """CHARTER_HOLIDAYS is read (a leading @: from that file) and checked once, when the settings load."""
        text = self.holidays.strip()
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"CHARTER_HOLIDAYS: cannot read the holidays file: {exc}") from None
        try:
            self._holidays = parse_holidays(text)
        except InvalidInput as exc:
            raise ValueError(f"CHARTER_HOLIDAYS: {exc}") from None
        return self

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.webhook_url:
            why = egress.url_refusal(self.webhook_url, self.upstream_allowlist, base=False)
            if why is not None:
                raise ValueError(f"CHARTER_WEBHOOK_URL: {why}")
        for name, url in self.chat_channels:
            why = egress.url_refusal(url, self.upstream_allowlist, base=False)
            if why is not None:
                raise ValueError(f"CHARTER_CHAT_WEBHOOKS: {name}: {why}")
        return self

    @model_validator(mode="after")
    def _check_smtp(self) -> Settings:
        if not self.smtp_host:
            return self
        if not self.smtp_from or "@" not in self.smtp_from:
            raise ValueError("CHARTER_SMTP_FROM: set the From address of notification emails, e.g. charter@example.com")
        loopback = self.smtp_host in ("localhost", "127.0.0.1", "::1")
        if self.smtp_security == "none" and not loopback:
            raise ValueError(
                "CHARTER_SMTP_SECURITY=none sends mail (and any password) in clear text: only for a relay on "
                f"localhost; use starttls or tls for {self.smtp_host}"
            )
        if bool(self.smtp_user) != bool(self.smtp_password):
            raise ValueError("CHARTER_SMTP_USER and CHARTER_SMTP_PASSWORD go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _check_oidc(self) -> Settings:
        if not self.oidc_issuer:
            return self
        host = (urlsplit(self.oidc_issuer).hostname or "").lower()
        if self.oidc_issuer.startswith("http://") and not (host in ("localhost", "::1") or host.startswith("127.")):
            raise ValueError(f"CHARTER_OIDC_ISSUER: {self.oidc_issuer} must be https:// (http:// only on loopback)")
        if not self.oidc_client_id:
            raise ValueError("CHARTER_OIDC_CLIENT_ID: set the client id Charter is registered under at the provider")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError(f"CHARTER_OIDC_SCOPES: '{self.oidc_scopes}' must include openid")
        self.oidc_group_table  # noqa: B018 - parse now: a malformed table is a settings error, not a sign-in error
        return self

    @property
    def oidc_group_table(self) -> dict[str, list[str]]:
        """CHARTER_OIDC_GROUPS as {group: [entry, …]} (entries are checked as roles by charter.auth.oidc)."""
        text = (self.oidc_groups or "").strip()
        if not text:
            return {}
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"CHARTER_OIDC_GROUPS: not JSON or YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ValueError("CHARTER_OIDC_GROUPS: must be a mapping of group to roles, e.g. {ml-platform: viewer}")
        out: dict[str, list[str]] = {}
        for group, value in loaded.items():
            items = value if isinstance(value, list) else str(value or "").split(",")
            entries = [str(v).strip() for v in items if str(v).strip()]
            if not isinstance(group, str | int) or not str(group).strip() or not entries:
                raise ValueError(f"CHARTER_OIDC_GROUPS: group '{group}' needs a name and at least one role or team")
            out[str(group).strip()] = entries
        return out

    @property
    def chat_channels(self) -> list[tuple[str, str]]:
        """CHARTER_CHAT_WEBHOOKS as (format, url) pairs; a malformed entry is a settings error."""
        out: list[tuple[str, str]] = []
        for part in (self.chat_webhooks or "").split(","):
            if not part.strip():
                continue
            fmt, sep, url = part.strip().partition("=")
            if not sep or fmt not in CHAT_FORMATS or not url.startswith(("https://", "http://")):
                raise ValueError(
                    f"CHARTER_CHAT_WEBHOOKS: '{part.strip()[:80]}' must be FORMAT=URL with FORMAT one of "
                    f"{', '.join(CHAT_FORMATS)}, e.g. slack=https://hooks.slack.com/services/…"
                )
            out.append((fmt, url))
        return out

    @property
    def holiday_dates(self) -> frozenset[date]:
        """CHARTER_HOLIDAYS, parsed when the settings loaded (a leading @ read the dates from that file)."""
        return self._holidays

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
