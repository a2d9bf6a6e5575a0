"""In-process wake-ups after a license change commits: the webhook sender, status-list signer and gateway index
subscribe here so they act at once instead of at their next poll (other processes still poll)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("charter.licenses")

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def subscribe(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (from any thread) after every committed license change; returns an unsubscribe function."""
    with _lock:
        _listeners.append(callback)

    def _unsubscribe() -> None:
        with _lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return _unsubscribe


def changed() -> None:
    """Tell every subscriber that license state changed (an after-commit hook)."""
    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        try:
            callback()
        except Exception as exc:  # a broken listener must not break the committed use case
            log.warning("license change listener failed: %s", exc)
