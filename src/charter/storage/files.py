"""File modes of a data dir: only the account Charter runs as may read its database and keys.

`charter init` (and `init --join`) create the SQLite file 0600 before SQLite opens it (SQLite gives its -wal and -shm
files the database file's mode), and leave the data dir and key dir 0700 and every file in them 0600, also when the
operator created them beforehand with looser modes.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for another backend or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_private_database(url: str) -> None:
    """Create a SQLite database file that does not exist yet as an empty 0600 file (SQLite fills it)."""
    path = sqlite_file(url)
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def make_private(home: Path, keys_dir: Path, url: str) -> None:
    """Data dir and key dir 0700, key files and SQLite files (with -wal, -shm, -journal) 0600."""
    for directory in (home, keys_dir):
        if directory.is_dir():
            directory.chmod(DIR_MODE)
    if keys_dir.is_dir():
        for path in keys_dir.iterdir():
            if path.is_file():
                path.chmod(FILE_MODE)
    db = sqlite_file(url)
    if db is not None:
        for suffix in _SQLITE_COMPANIONS:
            path = db.with_name(db.name + suffix)
            if path.is_file():
                path.chmod(FILE_MODE)
