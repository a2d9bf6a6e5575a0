"""Export files and offline verification from the database or from an export.

JSONL export: a header object, `{"checkpoint": NOTE}` lines for the checkpoints inside the range, an
`{"anchor": {"checkpoint": NOTE, "proof": [...]}}` line proving the range is a prefix of a signed checkpoint, then
the entries, each line exactly the canonical bytes that were hashed. CSV export is for people, not for verification.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Engine

from charter.audit import keyset, parallel, store
from charter.audit.merkle import decompose
from charter.audit.note import Verifier, verifier_key
from charter.audit.proofs import consistency_proof
from charter.audit.sink import Executor
from charter.audit.store import StoredCheckpoint, TreeReader
from charter.audit.verify import (
    CHUNK_HEIGHT,
    COLUMNS_SQL,
    Anchor,
    HeadState,
    LogVerifier,
    Report,
    Row,
    SignedCheckpoint,
    as_bytes,
)
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.signing import thumbprint

FORMAT = "charter-audit-export"
CSV_COLUMNS = ("seq", "ts", "actor", "action", "resource", "outcome", "details", "digests", "leaf_hash")
_ENTRY_START = b'{"action":'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What an export covers: entries [first, end), checkpoints inside, and the anchor checkpoint with its proof."""

    first: int
    end: int
    prefix: list[bytes]
    checkpoints: list[StoredCheckpoint]
    anchor: StoredCheckpoint | None
    proof: list[bytes]


def plan_export(s: Executor, first: int, end: int) -> ExportPlan:
    """Gather the tree material an export of entries [first, end) needs to be verifiable on its own."""
    anchor = store.checkpoint_covering(s, end)
    size = anchor.size if anchor is not None else store.head(s).size
    reader = TreeReader(s, max(size, end))
    prefix = [reader.perfect(a, h) for a, h in decompose(first)]
    proof = consistency_proof(end, anchor.size, reader.range_hash) if anchor is not None else []
    return ExportPlan(first, end, prefix, store.checkpoints(s, first=first, last=end), anchor, proof)


def jsonl_lines(
    s: Executor, plan: ExportPlan, origin: str, vkey: str, keys: dict[str, str] | None = None
) -> Iterator[bytes]:
    """The export file, line by line (each ending in a newline); `keys` is the log's recorded key set."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "origin": origin,
        "verifier_key": vkey,
        "first": plan.first,
        "end": plan.end,
        "prefix": [b64(h) for h in plan.prefix],
    }
    if keys is not None:
        header["keys"] = keys
    yield orjson.dumps(header) + b"\n"
    for cp in plan.checkpoints:
        yield orjson.dumps({"checkpoint": cp.note}) + b"\n"
    if plan.anchor is not None:
        anchor = {"checkpoint": plan.anchor.note, "proof": [b64(p) for p in plan.proof]}
        yield orjson.dumps({"anchor": anchor}) + b"\n"
    for row in store.iter_entries(s, plan.first, plan.end):
        yield bytes(row.body) + b"\n"


def csv_lines(s: Executor, first: int, end: int) -> Iterator[bytes]:
    """A CSV rendering of entries [first, end) with a header row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in store.iter_entries(s, first, end):
        doc = orjson.loads(row.body)
        details = json.dumps(doc.get("details", {}), ensure_ascii=False, sort_keys=True)
        digests = json.dumps(doc.get("digests", {}), sort_keys=True) if "digests" in doc else ""
        fields = (doc.get(k, "") for k in ("seq", "ts", "actor", "action", "resource", "outcome"))
        writer.writerow([*fields, details, digests, bytes(row.leaf_hash).hex()])
        if buf.tell() > 1 << 16:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


# --- offline verification ------------------------------------------------------------------------------------
def _key_for(public_raw: bytes) -> Any:
    cache: dict[str, Verifier] = {}

    def lookup(origin: str) -> Verifier | None:
        if origin not in cache:
            try:
                cache[origin] = Verifier.parse(verifier_key(origin, public_raw))
            except ValueError:
                return None
        return cache[origin]

    return lookup


def verify_database(
    engine: Engine,
    *,
    public_raw: bytes | None = None,
    verifier: Verifier | None = None,
    trusted: Iterable[str] = (),
    deep: bool = False,
    workers: int | None = None,
    chunk_height: int = CHUNK_HEIGHT,
    min_chunks: int = parallel.MIN_CHUNKS,
) -> Report:
    """Recompute the whole stored log: entries, stored leaf hashes and nodes, head, every checkpoint signature.

    Logs of at least `min_chunks` chunks are checked by `workers` processes (default: one per core), except for
    a deep check; `charter.audit.parallel` says how that gives the serial verifier's result.
    """
    if verifier is None and public_raw is None:
        raise InvalidInput(
            "verifying needs the audit public key or a note verifier key", code=ErrorCode.NO_VERIFIER_KEY
        )
    options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():  # one snapshot throughout
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL {parallel.IN_ORDER}")
        cps = [SignedCheckpoint(c.note, c.size, c.root, c.compact) for c in store.checkpoints(conn)]
        cps += [SignedCheckpoint(note) for note in trusted]
        keys = keyset.recorded(conn)
        head = store.head(conn)
        nodes = {(r[0], r[1]): bytes(r[2]) for r in conn.exec_driver_sql("SELECT height, idx, hash FROM audit_nodes")}
        beyond = conn.exec_driver_sql(
            f"SELECT seq, body FROM audit_entries WHERE seq >= {head.size:d} ORDER BY seq LIMIT 1"
        ).first()
        v = LogVerifier(
            verifier=verifier if verifier is not None else _key_for(public_raw or b""),
            checkpoints=cps,
            head=HeadState(head.size, head.root, head.compact),
            nodes=nodes,
            deep=deep,
            chunk_height=chunk_height,
            hmac_keys=_hmac_keys(keys),
        )
        _check_audit_key(v, keys, verifier.public_raw if verifier is not None else public_raw)
        workers = parallel.default_workers() if workers is None else workers
        whole = head.size - head.size % v.chunk
        source = parallel.source_for(conn) if workers > 1 and not deep and whole >= min_chunks * v.chunk else None
        if source is not None:
            sizes = v.checkpoint_sizes
            chunks = parallel.verify_chunks(
                source, whole, sizes, chunk_height=chunk_height, workers=workers, hmac_keys=v.hmac_keys
            )
            for result in chunks or ():
                v.add_chunk(result)
        for block in _db_rows(conn, deep, v.position, head.size):
            v.feed_block(block)
        if beyond is not None:
            pos, body = int(beyond[0]), bytes(beyond[1])
            where, why = v.locate_misplaced(pos, body)
            if where < pos:  # an entry that says it is an earlier one: inserted at or before that one
                v.problem(where, why)
            v.problem(pos, f"entry {pos} lies beyond the head ({head.size} entries): it was inserted")
        return v.finish()


def _hmac_keys(keys: object) -> frozenset[str] | None:
    """The HMAC key ids entries may name, from a recorded key set (None: not known, digests are not judged)."""
    if isinstance(keys, dict) and isinstance(keys.get("hmac"), str):
        return frozenset({keys["hmac"]})
    return None


def _check_audit_key(v: LogVerifier, keys: object, public_raw: bytes | None) -> None:
    """The key verifying checkpoints must be the audit key of the recorded key set."""
    if not isinstance(keys, dict) or not isinstance(keys.get("audit"), str) or public_raw is None:
        return
    used = thumbprint(public_raw)
    if used != keys["audit"]:
        v.problem(
            None,
            f"the key set recorded with the log names audit key {keys['audit']}, but checkpoints are being "
            f"verified with {used}: verify with the deployment's audit key",
        )


FETCH_ROWS = 20_000  # rows per read-ahead chunk


def _db_rows(conn: Connection, deep: bool, start: int, end: int) -> Iterator[list[Any]]:
    """Entries [start, end) straight from the driver cursor, fetched by a second thread while this one hashes."""
    # Positions are checked against the sequence number inside each body, which is what is hashed; the stored seq
    # column is only read by a deep check (a row whose column was changed shows up as a misplaced body). The other
    # columns are copies of body fields, each compared with its body.
    cols = f"{'seq' if deep else 'NULL'}, body, leaf_hash, {COLUMNS_SQL}"
    raw: Any = conn.connection.dbapi_connection
    pg = conn.dialect.name == "postgresql"
    # PostgreSQL: a server-side cursor in binary format (bytea arrives as raw bytes, not hex text).
    cursor = raw.cursor(name="charter_audit_verify", binary=True) if pg else raw.cursor()
    cursor.execute(f"SELECT {cols} FROM audit_entries WHERE seq >= {start:d} AND seq < {end:d} ORDER BY seq")
    chunks: queue.Queue[list[Any] | BaseException | None] = queue.Queue(maxsize=4)
    stop = threading.Event()  # set when the consumer is gone (done, failed or closed early)

    def put(item: list[Any] | BaseException | None) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def fetch() -> None:
        try:
            while not stop.is_set() and (rows := cursor.fetchmany(FETCH_ROWS)):
                put(rows)
            put(None)
        except BaseException as exc:  # handed to the consuming thread
            put(exc)

    thread = threading.Thread(target=fetch, name="charter-audit-verify-reader", daemon=True)
    thread.start()
    try:
        while (rows := chunks.get()) is not None:
            if isinstance(rows, BaseException):
                raise rows
            if rows and (type(rows[0][1]) is not bytes or type(rows[0][2]) is not bytes):
                rows = [(r[0], as_bytes(r[1]), as_bytes(r[2]), *r[3:]) for r in rows]  # memoryview: all rows
            yield rows
    finally:
        stop.set()
        thread.join()
        cursor.close()


@dataclass
class ExportFile:
    """A parsed export header and its meta lines; `entries` streams the entry lines."""

    header: dict[str, Any]
    checkpoints: list[str]
    anchor: Anchor | None
    first_entry: bytes | None
    rest: IO[bytes]

    def entries(self) -> Iterator[Row]:
        if self.first_entry is not None:
            yield None, self.first_entry, None
        for line in self.rest:
            if line.endswith(b"\n"):
                line = line[:-1]
            if line:
                yield None, line, None


def read_export(fh: IO[bytes]) -> ExportFile:
    """Parse the meta lines of a JSONL export; entries are read lazily."""
    first = fh.readline()
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f"line 1: not a {FORMAT} file (export with: charter audit export --format jsonl)")
    if header.get("version") != 1:
        raise InvalidInput(f"line 1: export version {header.get('version')} is not supported")
    checkpoints: list[str] = []
    anchor = None
    lineno = 1
    while True:
        line = fh.readline()
        lineno += 1
        if not line or line.startswith(_ENTRY_START):
            return ExportFile(header, checkpoints, anchor, line.rstrip(b"\n") or None, fh)
        try:
            meta = orjson.loads(line)
            if "checkpoint" in meta:
                checkpoints.append(str(meta["checkpoint"]))
            elif "anchor" in meta:
                proof = [base64.b64decode(p, validate=True) for p in meta["anchor"]["proof"]]
                anchor = Anchor(str(meta["anchor"]["checkpoint"]), proof)
            else:
                raise ValueError("unknown line")
        except (ValueError, TypeError, KeyError):
            raise InvalidInput(f"line {lineno}: neither an entry, a checkpoint nor an anchor") from None


def verify_export(fh: IO[bytes], verifier: Verifier, *, deep: bool = False, trusted: Iterable[str] = ()) -> Report:
    """Verify an export file with nothing but the note verifier key (and optionally checkpoints seen elsewhere)."""
    export = read_export(fh)
    h = export.header
    try:
        prefix = [base64.b64decode(p, validate=True) for p in h.get("prefix", [])]
        first = int(h.get("first", 0))
    except (ValueError, TypeError):
        raise InvalidInput("line 1: header prefix or first is malformed") from None
    if len(prefix) != bin(first).count("1"):
        raise InvalidInput(f"line 1: a prefix of {first} entries needs {bin(first).count('1')} hashes")
    cps = [SignedCheckpoint(n) for n in [*export.checkpoints, *trusted]]
    keys = h.get("keys")
    v = LogVerifier(
        verifier=verifier,
        checkpoints=cps,
        start=first,
        prefix=prefix,
        anchor=export.anchor,
        deep=deep,
        hmac_keys=_hmac_keys(keys),
    )
    _check_audit_key(v, keys, verifier.public_raw)
    v.feed(export.entries())
    report = v.finish()
    end = h.get("end")
    if isinstance(end, int) and end != report.size:
        v.problem(min(end, report.size), f"the header says the export ends at {end}; its entries end at {report.size}")
    if report.size > report.first and (report.latest_checkpoint or 0) < report.size:
        v.problem(None, f"entries up to {report.size} are not covered by a signed checkpoint in the export")
    return report
