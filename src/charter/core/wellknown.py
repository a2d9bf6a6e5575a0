"""The public paths a Charter server serves without a key, named once for the server and every client."""

from __future__ import annotations

JWKS_PATH = "/.well-known/jwks.json"
STATUS_LIST_PATH = "/.well-known/charter/status-list"
