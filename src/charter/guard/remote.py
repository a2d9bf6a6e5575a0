"""Decisions made and audited by a Charter server: `POST /api/v1/deployments/{name}/decisions` with the app's key."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import httpx

from charter.core.errors import ErrorCode
from charter.guard.model import CaptureRefused, Decision


class Unreachable(Exception):
    """The Charter server could not be reached (fall back to offline verification if configured)."""


def _decision(doc: dict[str, Any]) -> Decision:
    return Decision(
        decision_id=str(doc["decision_id"]),
        allowed=bool(doc["allowed"]),
        deployment=str(doc["deployment"]),
        reason=doc.get("reason"),
        detail=str(doc.get("detail") or ""),
        license_id=doc.get("license_id"),
        degraded=bool(doc.get("degraded")),
        approval_id=doc.get("approval_id"),
        ruled_tools=tuple(str(t) for t in doc.get("ruled_tools") or ()),
    )


class RemoteDecider:
    """Sync and async clients to the decisions API; `CHARTER_URL` / `CHARTER_API_KEY` by default."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, timeout_s: float = 5.0) -> None:
        self.url = (url or os.environ.get("CHARTER_URL") or "http://127.0.0.1:8400").rstrip("/")
        key = api_key or os.environ.get("CHARTER_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._timeout = timeout_s
        self._client: httpx.Client | None = None

    def _path(self, deployment: str) -> str:
        return f"{self.url}/api/v1/deployments/{deployment}/decisions"

    @staticmethod
    def _parse(resp: httpx.Response) -> Decision:
        if resp.status_code >= 500:
            raise Unreachable(f"Charter answered {resp.status_code}")
        doc = resp.json()
        if resp.status_code >= 400:
            # Not permitted to call at all (401/403/404): a denial in its own right.
            return Decision(
                decision_id="",
                allowed=False,
                deployment="",
                reason=str(doc.get("code", ErrorCode.NO_LICENSE)),
                detail=str(doc.get("detail", "")),
            )
        return _decision(doc)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers=self._headers, timeout=self._timeout)
        return self._client

    def decide(self, deployment: str, body: dict[str, Any]) -> Decision:
        try:
            resp = self._http().post(self._path(deployment), json=body)
        except httpx.TransportError as exc:
            raise Unreachable(type(exc).__name__) from exc
        return self._parse(resp)

    # --- capture (charter.guard.capture) -------------------------------------------------------------------------

    def _capture(self, method: str, deployment: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.url}/api/v1/deployments/{deployment}/capture"
        try:
            resp = self._http().request(method, url, json=body)
        except httpx.TransportError as exc:
            raise Unreachable(type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise Unreachable(f"Charter answered {resp.status_code}")
        doc: dict[str, Any] = resp.json()
        if resp.status_code >= 400:
            raise CaptureRefused(str(doc.get("code", resp.status_code)), str(doc.get("detail", "")))
        return doc

    def capture_target(self, deployment: str) -> dict[str, Any]:
        return self._capture("GET", deployment)

    def submit_capture(self, deployment: str, start: datetime, end: datetime, sketch: dict[str, Any]) -> None:
        self._capture("POST", deployment, {"start": start.isoformat(), "end": end.isoformat(), "sketch": sketch})

    async def adecide(self, deployment: str, body: dict[str, Any]) -> Decision:
        try:
            async with httpx.AsyncClient(headers=self._headers, timeout=self._timeout) as client:
                resp = await client.post(self._path(deployment), json=body)
        except httpx.TransportError as exc:
            raise Unreachable(type(exc).__name__) from exc
        return self._parse(resp)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
