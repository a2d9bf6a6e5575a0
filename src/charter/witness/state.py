"""The witness's memory: per log origin, the latest checkpoint it cosigned, in its own SQLite file.

Checking the submitted old size against the stored one and storing the new checkpoint happen in one
`BEGIN IMMEDIATE` transaction, so two concurrent submissions can never roll the stored size back.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Latest:
    size: int
    root: bytes
    note: str  # the checkpoint as cosigned: the log's signature and this witness's cosignature


class Mismatch(Exception):
    """The submitted old size is not the size of the latest cosigned checkpoint."""

    def __init__(self, latest: int) -> None:
        super().__init__(f"the latest cosigned checkpoint has size {latest}")
        self.latest = latest


class State:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a cosignature is only given once its state is durable
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()

    def latest(self, origin: str) -> Latest | None:
        with self._lock:
            row = self._db.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
        return Latest(int(row[0]), bytes(row[1]), str(row[2])) if row else None

    def advance(self, origin: str, old_size: int, check: Callable[[Latest | None], tuple[int, bytes, str]]) -> str:
        """Atomically: raise Mismatch unless `old_size` is the stored size (0 when none); else run `check` (which
        raises to refuse, or returns the new size, root and cosigned note), store its result and return the note."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
                current = Latest(int(row[0]), bytes(row[1]), str(row[2])) if row else None
                if (current.size if current else 0) != old_size:
                    raise Mismatch(current.size if current else 0)
                size, root, note = check(current)
                self._db.execute(
                    "INSERT INTO latest (origin, size, root, note) VALUES (?, ?, ?, ?) ON CONFLICT (origin) "
                    "DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
                    (origin, size, root, note),
                )
                self._db.execute("COMMIT")
                return note
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()
