"""PostgreSQL LISTEN/NOTIFY wakes the gateway's index as soon as another process commits a license change."""

from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import create_engine, text

from charter.gateway.listen import Listener
from tests.support.db import PG_URL, pg_sqlalchemy_url

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="needs CHARTER_TEST_POSTGRES_URL")]


def test_notification_wakes_only_after_commit() -> None:
    engine = create_engine(pg_sqlalchemy_url())
    woke = threading.Event()
    count = {"n": 0}

    def wake() -> None:
        count["n"] += 1
        woke.set()

    channel = f"charter_test_{secrets.token_hex(4)}"  # not the real channel: other tests may notify on it
    listener = Listener(engine, wake, channel=channel)
    listener.start()
    try:
        assert woke.wait(10)  # the initial wake once LISTEN is in place
        woke.clear()
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_notify(:c, '7')"), {"c": channel})
            assert not woke.wait(0.5)  # not delivered before commit
            conn.rollback()
        assert not woke.wait(0.5)  # nor after a rollback
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, '8')"), {"c": channel})
        assert woke.wait(5)
        assert listener.notifications >= 1
    finally:
        listener.stop()
        engine.dispose()
