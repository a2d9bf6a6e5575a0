"""Verify a stored log on every core: aligned chunks of entries checked and hashed by worker processes.

Each worker reads its own range of entries straight from the database (by sequence number), checks every body
and stored leaf hash, and builds the chunk's levels of the tree; the calling process folds the chunk roots in order
and does everything that needs the whole log (checkpoints, stored nodes, the head). The result is the serial
verifier's: a range that does not hold exactly the entries its positions call for (a row deleted, inserted or
renumbered) makes the caller verify serially, so the evidence of such a change is located the same way.

Snapshots: on PostgreSQL every worker imports the caller's exported snapshot, so all read the same state. On
SQLite each worker reads a committed state at least as new as the caller's; the ranges lie below the head size the
caller read, and an honest log never changes an entry once written.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from charter.audit.verify import COLUMNS_SQL, ChunkResult, check_bodies, chunk_result

# Entries are read in sequence order, which the primary key index gives without sorting. Planner statistics of a
# log that just grew (autovacuum has not analyzed it yet) can make PostgreSQL sort instead, on disk.
IN_ORDER = "enable_sort = off"
log = logging.getLogger("charter.audit.verify")
MIN_CHUNKS = 4  # below this many full chunks, starting worker processes costs more than it saves
_SNAPSHOT = re.compile(r"^[0-9A-Fa-f-]+$")


@dataclass(frozen=True, slots=True)
class Source:
    """How a worker process reaches the log: picklable, hashable (each worker keeps one connection per source)."""

    dialect: str
    params: tuple[tuple[str, Any], ...] = field(repr=False)  # a PostgreSQL password, maybe: never in a log line
    search_path: str | None = None
    snapshot: str | None = None


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def source_for(conn: Connection) -> Source | None:
    """The worker's way to the database `conn` reads, or None when workers cannot reach it (in-memory SQLite).

    On PostgreSQL this exports the snapshot of `conn`'s transaction, which must be REPEATABLE READ and stay open
    until the workers are done.
    """
    url = conn.engine.url
    if conn.dialect.name == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        return Source("sqlite", (("path", str(Path(url.database).resolve())),))
    if conn.dialect.name == "postgresql":
        _, params = conn.dialect.create_connect_args(url)
        params.pop("context", None)
        search_path = conn.exec_driver_sql("SHOW search_path").scalar()
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        return Source("postgresql", tuple(sorted(params.items())), str(search_path), str(snapshot))
    return None


def verify_chunks(
    source: Source,
    end: int,
    checkpoint_sizes: Sequence[int],
    *,
    chunk_height: int,
    workers: int,
    hmac_keys: frozenset[str] | None = None,
) -> list[ChunkResult] | None:
    """Check entries [0, end) (`end` a multiple of the chunk size) in `workers` processes, chunk results in order.

    None when some chunk does not hold exactly its entries: the caller must verify those entries serially.
    """
    chunk = 1 << chunk_height
    if end % chunk:
        raise ValueError(f"{end} entries are not whole chunks of {chunk}")
    step = chunk * _chunks_per_unit(end // chunk, workers)
    units = [(a, min(a + step, end)) for a in range(0, end, step)]
    sizes = tuple(sorted(s for s in checkpoint_sizes if 0 < s < end))
    ctx = multiprocessing.get_context(start_method())
    results: list[ChunkResult] = []
    with ProcessPoolExecutor(max_workers=min(workers, len(units)), mp_context=ctx) as pool:
        futures = [pool.submit(_verify_range, source, a, b, sizes, chunk_height, hmac_keys) for a, b in units]
        try:
            for fut in futures:
                got = fut.result()
                if got is None:
                    return None
                results.extend(got)
        except Exception as exc:  # a worker could not start or reach the database: the caller verifies serially
            log.warning("verify workers failed (%s: %s); verifying in one process", type(exc).__name__, exc)
            return None
        finally:
            for fut in futures:
                fut.cancel()
    return results


def start_method() -> str:
    """Fork (no imports to repeat: a quarter of a second saved per worker) only where it is safe: on a POSIX
    system, from a process with no other thread that could hold a lock the children would inherit."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _chunks_per_unit(chunks: int, workers: int) -> int:
    """Chunks per task: a few tasks per worker, so one slow range does not leave the other workers idle."""
    return max(1, chunks // (workers * 4))


# --- in the worker process -----------------------------------------------------------------------------------
_connections: dict[Source, Any] = {}


def _verify_range(
    source: Source,
    start: int,
    end: int,
    checkpoint_sizes: tuple[int, ...],
    chunk_height: int,
    hmac_keys: frozenset[str] | None = None,
) -> list[ChunkResult] | None:
    rows = _rows(source, start, end)
    # Rows rewritten with another type (SQLite keeps any) are left to check_bodies: it converts odd bodies, and
    # a stored leaf hash that is not bytes compares unequal to every hash, so it is reported as an edit.
    bodies = [r[1] for r in rows]
    stored = [r[2] for r in rows]
    if len(bodies) != end - start:
        return None
    chunk = 1 << chunk_height
    out = []
    for base in range(start, end, chunk):
        i, j = base - start, base - start + chunk
        leaves, problems = check_bodies(bodies[i:j], stored[i:j], base, 0, hmac_keys, rows[i:j])
        out.append(chunk_result(base, leaves, checkpoint_sizes, problems))
    return out


def _rows(source: Source, start: int, end: int) -> list[tuple[Any, ...]]:
    sql = (
        f"SELECT NULL, body, leaf_hash, {COLUMNS_SQL} FROM audit_entries WHERE seq >= {start:d} AND seq < {end:d} "
        "ORDER BY seq"
    )
    conn = _connections.get(source)
    if conn is None:
        conn = _connections[source] = _connect(source)
    if source.dialect == "sqlite":
        return conn.execute(sql).fetchall()  # type: ignore[no-any-return]
    with conn.cursor(binary=True) as cur:
        cur.execute(sql)
        return cur.fetchall()  # type: ignore[no-any-return]


def _connect(source: Source) -> Any:
    params = dict(source.params)
    if source.dialect == "sqlite":
        return sqlite3.connect(Path(params["path"]).as_uri() + "?mode=ro", uri=True, check_same_thread=False)
    import psycopg

    conn = psycopg.connect(**params, autocommit=True)
    try:
        if source.search_path is not None:
            conn.execute("SELECT set_config('search_path', %s, false)", (source.search_path,))
        conn.execute(f"SET {IN_ORDER}")
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if source.snapshot is not None:
            if not _SNAPSHOT.match(source.snapshot):
                raise ValueError(f"not a snapshot id: {source.snapshot!r}")
            conn.execute(f"SET TRANSACTION SNAPSHOT '{source.snapshot}'")
    except BaseException:
        with suppress(Exception):
            conn.close()
        raise
    return conn
