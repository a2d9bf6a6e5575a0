"""Dashboard session cookies and CSRF tokens; the sessions themselves are stored by `charter.auth.sessions`."""

from __future__ import annotations

import hmac

# `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/ (no subdomain injection).
COOKIE_SECURE = "__Host-charter_session"
COOKIE_PLAIN = "charter_session"
LOGIN_CSRF_COOKIE = "charter_login_csrf"


def tokens_equal(a: str | None, b: str | None) -> bool:
    """Constant-time comparison that treats a missing value as a mismatch."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
