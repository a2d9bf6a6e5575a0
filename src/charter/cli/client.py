"""HTTP client for the Charter API (httpx), turning problem+json into CliError."""

from __future__ import annotations

from typing import Any

import httpx

from charter.cli.context import STATE
from charter.cli.errors import EXIT_BY_STATUS, EXIT_FORBIDDEN, EXIT_UNREACHABLE, CliError
from charter.core.errors import ErrorCode

PAGE_SIZE = 1000  # the API's largest page


class Api:
    def __init__(self, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.base = (base_url or STATE.base_url).rstrip("/")
        key = api_key or STATE.key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path
        if not url.startswith("/api/") and not url.startswith("/.well-known") and not url.startswith("/healthz"):
            url = "/api/v1" + url
        try:
            resp = self._client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                ErrorCode.SERVER_UNREACHABLE,
                f"cannot reach Charter at {self.base} ({type(exc).__name__}); start it with `make run` "
                "or set CHARTER_URL",
                EXIT_UNREACHABLE,
            ) from None
        if resp.status_code >= 400:
            raise _problem(resp, self.base)
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def get_all(self, path: str, params: dict[str, Any] | None = None, *, limit: int = PAGE_SIZE) -> list[Any]:
        """Every item of a paged list route, following each page's `next` cursor."""
        items: list[Any] = []
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        while True:
            page = self.get(path, params=query)
            items.extend(page["items"])
            if not page.get("next"):
                return items
            query["cursor"] = page["next"]

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def _problem(resp: httpx.Response, base: str) -> CliError:
    try:
        body = resp.json()
    except ValueError:
        body = {"code": ErrorCode.HTTP_ERROR, "detail": resp.text[:200]}
    if not isinstance(body, dict):
        body = {"code": ErrorCode.HTTP_ERROR, "detail": str(body)[:200]}
    code = str(body.get("code", ErrorCode.HTTP_ERROR))
    detail = str(body.get("detail", resp.reason_phrase))
    if resp.status_code == 401 and code == ErrorCode.MISSING_API_KEY:
        detail += " — set CHARTER_API_KEY or pass --api-key"
    elif resp.status_code == 401 and code == ErrorCode.INVALID_API_KEY:
        detail += (
            f" (asked the Charter at {base}; if the key is another server's, set CHARTER_URL or --url to that one, "
            "or CHARTER_PORT when it runs on this machine on another port)"
        )
    return CliError(
        code,
        detail,
        EXIT_BY_STATUS.get(resp.status_code, EXIT_FORBIDDEN if resp.status_code < 500 else 1),
        body,
    )
