"""The OpenID Connect relying party of the dashboard: authorization code flow with PKCE (S256), state and nonce,
built on authlib (client, PKCE, ID token claims) and joserfc (signature).

Fails closed: an unreachable or mismatching discovery document, a wrong `state`, a refused code, an ID token with a
bad signature, another issuer or audience, an expired one or a wrong nonce each end in `Refused` (a clear 4xx/5xx
page), never in a signed-in session. Nothing here knows about Starlette; the endpoints are in `web.views.oidc`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from charter.auth.oidc import GroupTable, Identity, parse_table
from charter.core.errors import ErrorCode
from charter.settings import Settings, public_url
from charter.web.sessions import tokens_equal

log = logging.getLogger("charter.web.oidc")

CALLBACK_PATH = "/login/oidc/callback"
METADATA_TTL_S = 300.0
TIMEOUT_S = 10.0
LEEWAY_S = 60
# Asymmetric algorithms only: an HS256 token would be "signed" with the client secret, and `none` is no signature.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class Refused(Exception):
    """A sign-in the relying party will not complete: `status` and `code` for the page, `message` for the person."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Flow:
    """What the browser keeps (in a short-lived cookie) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    next: str

    def encode(self) -> str:
        raw = json.dumps({"s": self.state, "n": self.nonce, "v": self.verifier, "x": self.next}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(value: str | None) -> Flow | None:
        if not value or len(value) > 4000:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            return Flow(str(data["s"]), str(data["n"]), str(data["v"]), str(data["x"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None


class RelyingParty:
    """One per process: the settings, the group table and a cache of the provider's metadata and keys."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        self.groups_claim = settings.oidc_groups_claim
        base = (settings.oidc_redirect_base_url or public_url(settings)).rstrip("/")
        self.redirect_uri = base + CALLBACK_PATH
        self.table: GroupTable = parse_table(settings.oidc_group_table)
        self.label = urlsplit(self.issuer).hostname or "your identity provider"
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: dict[str, Any] | None = None

    # --- the provider's metadata and keys -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The discovery document (cached for METADATA_TTL_S), whose `issuer` must be exactly the configured one."""
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata[0] < METADATA_TTL_S:
                return self._metadata[1]
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url, "discovery document")
        missing = [k for k in REQUIRED_METADATA if not isinstance(data.get(k), str)]
        if missing:
            raise Refused(
                503, ErrorCode.OIDC_DISCOVERY_FAILED, f"the identity provider's discovery document lacks {missing}"
            )
        if data["issuer"] != self.issuer:
            log.warning("OIDC discovery at %s names issuer %r, not %r", url, data["issuer"], self.issuer)
            raise Refused(
                503,
                ErrorCode.OIDC_WRONG_ISSUER,
                f"the identity provider at {self.issuer} calls itself {str(data['issuer'])[:200]}: "
                "CHARTER_OIDC_ISSUER must be exactly its issuer",
            )
        with self._lock:
            self._metadata = (time.monotonic(), data)
            self._jwks = None
        return data

    def _keys(self, metadata: dict[str, Any], *, force: bool = False) -> KeySet:
        with self._lock:
            cached = None if force else self._jwks
        if cached is None:
            cached = self._get_json(str(metadata["jwks_uri"]), "signing keys")
            with self._lock:
                self._jwks = cached
        try:
            return KeySet.import_key_set(cached)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise Refused(
                503, ErrorCode.OIDC_DISCOVERY_FAILED, f"the identity provider's signing keys are unusable ({exc})"
            ) from None

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=TIMEOUT_S, headers={"accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OIDC: cannot read the %s at %s: %s", what, url, exc)
            raise Refused(
                503,
                ErrorCode.OIDC_DISCOVERY_FAILED,
                f"single sign-on is unavailable: cannot read the provider's {what}",
            ) from None
        if not isinstance(data, dict):
            raise Refused(503, ErrorCode.OIDC_DISCOVERY_FAILED, f"the identity provider's {what} is not a JSON object")
        return data

    # --- the flow -------------------------------------------------------------------------------------------------

    def _client(self, metadata: dict[str, Any]) -> OAuth2Client:
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if not self.client_secret:
            method = "none"
        elif "client_secret_basic" in methods:
            method = "client_secret_basic"
        else:
            method = "client_secret_post"
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=method,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_S,
        )

    def start(self, next_url: str) -> tuple[str, Flow]:
        """The provider's authorization URL to send the browser to, and the flow to keep in its cookie."""
        metadata = self.metadata()
        flow = Flow(generate_token(32), generate_token(32), generate_token(64), next_url)
        with self._client(metadata) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=flow.state, nonce=flow.nonce, code_verifier=flow.verifier
            )
        return str(url), flow

    def finish(self, params: Mapping[str, str], flow: Flow | None) -> Identity:
        """Check the callback against the flow, redeem the code, verify the ID token; the verified identity."""
        if flow is None:
            raise Refused(
                400, ErrorCode.OIDC_NO_FLOW, "this sign-in did not start here (or took too long); start it again"
            )
        if not tokens_equal(params.get("state"), flow.state):
            raise Refused(
                400,
                ErrorCode.OIDC_STATE_MISMATCH,
                "the sign-in response does not match the sign-in this browser started (state mismatch); start it again",
            )
        if params.get("iss") is not None and params["iss"] != self.issuer:  # RFC 9207: a mix-up with another provider
            raise Refused(
                400,
                ErrorCode.OIDC_ISSUER_MISMATCH,
                f"the sign-in response comes from another identity provider ({params['iss'][:200]}, not "
                f"{self.issuer}); start the sign-in again",
            )
        if params.get("error"):
            detail = (params.get("error_description") or params["error"])[:200]
            raise Refused(401, ErrorCode.OIDC_PROVIDER_REFUSED, f"the identity provider refused the sign-in: {detail}")
        code = params.get("code")
        if not code:
            raise Refused(400, ErrorCode.OIDC_NO_CODE, "the identity provider sent no authorization code")
        metadata = self.metadata()
        token = self._redeem(metadata, code, flow)
        claims = self._verify(metadata, token, flow.nonce)
        if metadata.get("userinfo_endpoint") and token.get("access_token"):
            info = self._userinfo(str(metadata["userinfo_endpoint"]), str(token["access_token"]))
            if info.get("sub") != claims["sub"]:
                raise Refused(401, ErrorCode.OIDC_USERINFO_MISMATCH, "the provider's userinfo names another subject")
            claims = {**info, **claims}  # the signed ID token wins where both say something
        return self._identity(claims)

    def _redeem(self, metadata: dict[str, Any], code: str, flow: Flow) -> dict[str, Any]:
        try:
            with self._client(metadata) as client:
                token = client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=flow.verifier, redirect_uri=self.redirect_uri
                )
        except OAuth2Error as exc:
            raise Refused(
                401, ErrorCode.OIDC_CODE_REFUSED, f"the identity provider refused the code: {exc.error}"
            ) from None
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OIDC: token endpoint failed: %s", exc)
            raise Refused(502, ErrorCode.OIDC_TOKEN_FAILED, "the identity provider's token endpoint failed") from None
        if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
            raise Refused(401, ErrorCode.OIDC_NO_ID_TOKEN, "the identity provider returned no ID token")
        return dict(token)

    def _verify(self, metadata: dict[str, Any], token: dict[str, Any], nonce: str) -> dict[str, Any]:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ALGORITHMS]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(token["id_token"], key=self._keys(metadata), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys since they were cached
                decoded = jwt.decode(token["id_token"], key=self._keys(metadata, force=True), registry=registry)
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
            }
            params = {"nonce": nonce, "client_id": self.client_id, "access_token": token.get("access_token")}
            claims = CodeIDToken(decoded.claims, decoded.header, options, params)
            claims.validate(leeway=LEEWAY_S)
        except (JoseError, ValueError, TypeError) as exc:
            reason = getattr(exc, "error", None) or type(exc).__name__
            description = getattr(exc, "description", None) or str(exc)
            log.warning("OIDC: ID token refused: %s %s", reason, description)
            raise Refused(
                401,
                ErrorCode.OIDC_ID_TOKEN_INVALID,
                f"the ID token failed verification ({reason}: {description[:200]})",
            ) from None
        return dict(claims)

    def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=TIMEOUT_S, headers={"authorization": f"Bearer {access_token}"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OIDC: userinfo failed: %s", exc)
            raise Refused(
                502, ErrorCode.OIDC_USERINFO_FAILED, "the identity provider's userinfo endpoint failed"
            ) from None
        if not isinstance(data, dict):
            raise Refused(502, ErrorCode.OIDC_USERINFO_FAILED, "the identity provider's userinfo is not a JSON object")
        return data

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        value: Any = claims
        for part in self.groups_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        groups = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        email = claims.get("email")
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) and "@" in email else None,
            email_verified=claims.get("email_verified") is True,
            name=_text(claims.get("name")),
            username=_text(claims.get("preferred_username")),
            groups=tuple(sorted({g for g in groups if isinstance(g, str)})),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
