"""Offline verification of a log (from the database or an export): recompute every hash, check every signature.

Entries stream through once. The tree is rebuilt in aligned chunks of 2^16 leaves (each chunk's levels built with
list comprehensions, then folded into a compact tree of chunk roots), so memory stays flat and the roots at every
checkpoint size come out of the same pass. Problems name the first bad entry where the evidence allows it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from charter.audit.canonical import canonical
from charter.audit.merkle import CompactTree, Levels, decompose, fold, node_hash
from charter.audit.note import Checkpoint, NoteError, Verifier, verify_checkpoint
from charter.audit.proofs import verify_consistency
from charter.core.clock import isoformat

CHUNK_HEIGHT = 16
CHUNK = 1 << CHUNK_HEIGHT
MAX_PROBLEMS = 100
_SEQ = b',"seq":'


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; `seq` is the first entry it implicates (None when it is about the log as a whole)."""

    seq: int | None
    reason: str
    end: int | None = None  # set when the evidence only locates a range [seq, end)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "reason": self.reason}
        if self.end is not None:
            out["end"] = self.end
        return out


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint note to check, with the state stored next to it (database rows) when there is one."""

    note: str
    size: int | None = None
    root: bytes | None = None
    compact: Sequence[bytes] | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed checkpoint beyond the exported range and the consistency proof that the range is its prefix."""

    note: str
    proof: Sequence[bytes]


@dataclass(frozen=True, slots=True)
class HeadState:
    size: int
    root: bytes
    compact: Sequence[bytes]


@dataclass
class Report:
    """The verdict. `ok` only when every entry, checkpoint and the head agree."""

    entries: int = 0
    first: int = 0
    size: int = 0
    root: bytes = b""
    checkpoints: int = 0
    latest_checkpoint: int | None = None
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        """The problem with the lowest entry number, preferring an exact entry over a range that contains it."""
        exact = [p.seq for p in self.problems if p.seq is not None and p.end is None]
        located = [
            p
            for p in self.problems
            if p.seq is not None and (p.end is None or not any(p.seq <= s < p.end for s in exact))
        ]
        if located:
            return min(located, key=lambda p: p.seq if p.seq is not None else 0)
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        bad = self.first_bad
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first": self.first,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "checkpoints_verified": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
            "first_bad": None if bad is None else bad.to_dict(),
            "problems": [p.to_dict() for p in self.problems],
            "more_problems": self.more_problems,
        }


# A stored entry as verification reads it: (seq or None, body, leaf hash or None), then, from the database, the
# stored copies of body fields (ts, actor, action, resource, outcome) as the driver returns them.
COLUMNS_SQL = "ts, actor, action, resource, outcome"
COLUMN_LIMITS = (("actor", 140), ("action", 80), ("resource", 200), ("outcome", 12))  # what the writer stores
Row = tuple[Any, ...]
VerifierFor = Callable[[str], Verifier | None]


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one aligned chunk of leaves contributes (computed where its entries are, e.g. a worker process).

    `partials[size]` holds the perfect subtree roots, within the chunk, of the checkpoint sizes inside it.
    """

    base: int
    root: bytes
    level8: list[bytes]
    partials: dict[int, list[bytes]]
    problems: list[Problem]


def check_bodies(
    bodies: Sequence[bytes],
    stored: Sequence[object] | None,
    pos: int,
    first: int,
    hmac_keys: frozenset[str] | None = None,
    columns: Sequence[Sequence[Any]] | None = None,
) -> tuple[list[bytes], list[Problem]]:
    """Leaf hashes of entries at positions [pos, pos + len(bodies)), and what is wrong with them: a body that
    holds another position's sequence number, a stored leaf hash its body does not hash to (a stored value that is
    not bytes never equals a hash, so it is reported too), when the log's HMAC key ids are known, body digests
    made with another key, and, given the stored rows (`column_problems`), a column that differs from its body."""
    try:
        leaves, misplaced = _hash_and_place(bodies, pos)
    except (TypeError, AttributeError):  # a row rewritten with another type (SQLite keeps any): check it as bytes
        bodies = [as_bytes(b) for b in bodies]
        leaves, misplaced = _hash_and_place(bodies, pos)
    problems: list[Problem] = []
    for i in misplaced[:MAX_PROBLEMS]:
        problems.append(Problem(*locate_misplaced(i, bodies[i - pos], first)))
    if stored is not None and stored != leaves:
        for i, (a, b) in enumerate(zip(stored, leaves, strict=True), pos):
            if a != b:
                problems.append(Problem(i, f"entry {i} was edited: its body does not hash to its stored leaf hash"))
    if hmac_keys is not None:
        problems.extend(foreign_digests(bodies, pos, hmac_keys))
    if columns is not None:
        named = {p.seq for p in problems}
        problems.extend(p for p in column_problems(columns, pos) if p.seq not in named)
    return leaves, problems


_HEAD_ACTOR = b',"actor":'
_HEAD_END = b',"details":'
_MID_RESOURCE = b',"resource":'
_NEVER = b"\xff"  # starts and ends no entry body


def column_problems(rows: Sequence[Sequence[Any]], pos: int) -> list[Problem]:
    """Entries whose stored columns (ts, actor, action, resource, outcome: copies kept for filtering) differ from
    their body, which is what is hashed: an edited column would make `charter audit` listings lie while the tree
    still verifies. `rows` are (seq, body, leaf hash, ts, actor, action, resource, outcome) as stored.

    A body is canonical JSON with sorted keys: `{"action":A,"actor":B,"details":…,"outcome":O,"resource":R,
    "seq":N,"ts":"T","v":V}`. So the bytes each row's columns call for are built (once per distinct value: a log
    repeats few) and compared at their place; only a row where they differ is parsed, and judged field by field
    (a column holds the first 80/140/200 characters of a longer value; timestamps are compared as instants).
    """
    try:
        suspects = _suspects(rows)
    except (TypeError, AttributeError):  # a body rewritten with another type (SQLite keeps any): check it as bytes
        rows = [(r[0], as_bytes(r[1]), *r[2:]) for r in rows]
        suspects = _suspects(rows)
    problems = []
    for i in suspects:
        differ = _differing_columns(as_bytes(rows[i][1]), rows[i][3:])
        if differ:
            seq = pos + i
            problems.append(
                Problem(
                    seq,
                    f"entry {seq}: stored column{'s' if len(differ) > 1 else ''} {', '.join(differ)} "
                    "differ from the entry body (the body is what is hashed: the column was edited)",
                )
            )
            if len(problems) >= MAX_PROBLEMS:
                break
    return problems


def _suspects(rows: Sequence[Sequence[Any]]) -> list[int]:
    """Indexes of the rows whose body does not hold, at their places, the bytes its columns call for."""
    heads, mids, tails = _Expected(_head), _Expected(_mid), _Expected(_tail)
    return [
        i
        for i, (_, b, _, ts, actor, action, resource, outcome) in enumerate(rows)
        if not (
            b.startswith(heads[action, actor])
            and b.endswith(mids[outcome, resource], 0, b.rfind(_SEQ) + 7)
            and b.endswith(tails[ts], 0, len(b) - 2)
        )
    ]


class _Expected(dict[Any, bytes]):
    """Expected body bytes by column value(s), made on first use (a subscript, not a `get`: the fast path)."""

    def __init__(self, make: Callable[[Any], bytes]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: Any) -> bytes:
        value = self[key] = self._make(key)
        return value


def _json_str(value: object) -> bytes:
    if type(value) is not str:
        return _NEVER
    try:
        return orjson.dumps(value)
    except TypeError:  # lone surrogates: judged by the slow path
        return _NEVER


def _head(key: tuple[object, object]) -> bytes:
    a, b = _json_str(key[0]), _json_str(key[1])
    return _NEVER if _NEVER in (a, b) else b'{"action":' + a + _HEAD_ACTOR + b + _HEAD_END


def _mid(key: tuple[object, object]) -> bytes:
    o, r = _json_str(key[0]), _json_str(key[1])
    return _NEVER if _NEVER in (o, r) else b',"outcome":' + o + _MID_RESOURCE + r + _SEQ


def _tail(ts: object) -> bytes:
    when = _instant(ts)
    return _NEVER if when is None else b',"ts":"' + isoformat(when).encode() + b'","v":'


def _instant(value: object) -> datetime | None:
    """A stored or written timestamp as an aware UTC datetime (SQLite keeps naive UTC text); None if it is none."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _differing_columns(body: bytes, stored: Sequence[Any]) -> list[str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []  # reported by the position check
    if not isinstance(doc, dict):
        return []
    ts, *rest = stored
    out = [] if _instant(doc.get("ts")) == _instant(ts) and _instant(ts) is not None else ["ts"]
    for (key, limit), value in zip(COLUMN_LIMITS, rest, strict=True):
        if not isinstance(value, str) or str(doc.get(key, ""))[:limit] != value:
            out.append(key)
    return out


_HMAC_KEY = b'"hmac_key":"'
_V1_END = b'"v":1}'


def foreign_digests(bodies: Sequence[bytes], pos: int, known: frozenset[str]) -> list[Problem]:
    """Entries whose body digests name an HMAC key id not in `known`: written by a process with other keys.

    Only version 2 entries carry `hmac_key` (version 1 ones, without digests or from before key ids, are not
    judged). The entry's own member is the last `"hmac_key":"` in the body: `details` and `digests` sort before it,
    and a quote inside a string is escaped. So a body whose last such member names a known key was made with it;
    only the rest are parsed.
    """
    marks = [_HMAC_KEY + k.encode() + b'","outcome":' for k in sorted(known)]
    if len(marks) == 1:
        mark = marks[0]
        suspects = [
            i for i, b in enumerate(bodies) if not b.endswith(_V1_END) and not b.startswith(mark, b.rfind(_HMAC_KEY))
        ]
    else:
        suspects = [
            i
            for i, b in enumerate(bodies)
            if not b.endswith(_V1_END) and not any(b.startswith(m, b.rfind(_HMAC_KEY)) for m in marks)
        ]
    problems: list[Problem] = []
    for i in suspects[:MAX_PROBLEMS]:
        try:
            doc = orjson.loads(bodies[i])
        except orjson.JSONDecodeError:
            continue  # reported by the other checks
        kid = doc.get("hmac_key") if isinstance(doc, dict) else None
        if isinstance(kid, str) and kid not in known:
            seq = pos + i
            expected = ", ".join(sorted(known))
            problems.append(
                Problem(
                    seq,
                    f"entry {seq}: its body digests were made with another HMAC key (id {kid[:32]}, the log's key "
                    f"is {expected}): a process with other keys wrote it, so its digests cannot be checked",
                )
            )
    return problems


def _hash_and_place(bodies: Sequence[bytes], pos: int) -> tuple[list[bytes], list[int]]:
    """Leaf hashes, and the positions whose body does not carry its own sequence number."""
    sha256 = hashlib.sha256
    leaves = [sha256(b"\x00" + b).digest() for b in bodies]
    misplaced = [i for i, b in enumerate(bodies, pos) if not b.startswith(b'%d,"ts":' % i, b.rfind(_SEQ) + 7)]
    return leaves, misplaced


def as_bytes(value: object) -> bytes:
    """A stored body or hash as bytes, whatever the column held: SQLite keeps what was written (text too), so a
    rewritten row may come back as a string or NULL; it is then checked (and reported) like any other edit."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return b"" if value is None else str(value).encode()


def locate_misplaced(pos: int, body: bytes, first: int) -> tuple[int, str]:
    """Where the trouble starts: an entry that says it is `q` at position `pos` implicates min(pos, q)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return pos, f"entry {pos} is not JSON"
    got = doc.get("seq") if isinstance(doc, dict) else None
    if type(got) is not int:
        return pos, f"entry {pos} has no sequence number"
    where = max(min(pos, got), first)
    if got < pos:
        why = f"entry {got} reappears at position {pos}: entries were inserted or reordered at or before {got}"
    else:
        why = f"position {pos} holds entry {got}: entries were deleted or reordered from {pos}"
    return where, why


def chunk_result(
    base: int, leaves: list[bytes], checkpoint_sizes: Iterable[int], problems: list[Problem]
) -> ChunkResult:
    """The contribution of a full chunk of leaves starting at `base` (a multiple of the chunk size)."""
    levels = Levels(leaves)
    end = base + len(leaves)
    partials = {
        size: [levels.node(a, h) for a, h in decompose(size - base)] for size in checkpoint_sizes if base < size < end
    }
    height = len(levels.levels) - 1
    level8 = levels.levels[8] if height >= 8 else []
    return ChunkResult(base, levels.levels[height][0], level8, partials, problems)


class LogVerifier:
    """Feed entries in order with `feed`, then call `finish` for the report."""

    def __init__(
        self,
        *,
        verifier: Verifier | VerifierFor | None,
        checkpoints: Iterable[SignedCheckpoint] = (),
        start: int = 0,
        prefix: Sequence[bytes] = (),
        head: HeadState | None = None,
        nodes: dict[tuple[int, int], bytes] | None = None,
        anchor: Anchor | None = None,
        deep: bool = False,
        chunk_height: int = CHUNK_HEIGHT,
        hmac_keys: frozenset[str] | None = None,
    ) -> None:
        if chunk_height < 8:
            raise ValueError("chunks must hold at least 2^8 leaves (the lowest stored tree level)")
        self.chunk_height = chunk_height
        self.chunk = 1 << chunk_height
        self.report = Report(first=start)
        self._verifier = verifier
        self._deep = deep
        self.hmac_keys = hmac_keys
        self._head = head
        self._nodes = nodes or {}
        self._anchor = anchor
        self.tree = CompactTree(start, list(prefix))
        self._buffer: list[bytes] = []
        self._pos = start
        self._cps: dict[int, list[tuple[Checkpoint, SignedCheckpoint]]] = {}
        self._last_good = start
        for sc in checkpoints:
            self._load_checkpoint(sc)
        if start in self._cps:
            self._snapshot(start, list(prefix))

    @property
    def position(self) -> int:
        """The position of the next entry to feed."""
        return self._pos

    @property
    def checkpoint_sizes(self) -> list[int]:
        """Sizes of the signed checkpoints that verified: the tree is compared with each at its size."""
        return sorted(self._cps)

    # --- checkpoints -----------------------------------------------------------------------------------------
    def _verifier_for(self, origin: str) -> Verifier | None:
        if self._verifier is None or isinstance(self._verifier, Verifier):
            return self._verifier
        return self._verifier(origin)

    def _open(self, note: str) -> Checkpoint | str:
        origin = note.split("\n", 1)[0]
        verifier = self._verifier_for(origin)
        if verifier is None:
            return f"no verifier key for origin {origin!r}"
        try:
            return verify_checkpoint(note, verifier)
        except NoteError as exc:
            return exc.message

    def _load_checkpoint(self, sc: SignedCheckpoint) -> None:
        cp = self._open(sc.note)
        if isinstance(cp, str):
            self.problem(None, f"checkpoint {sc.size if sc.size is not None else '?'} does not verify: {cp}")
            return
        if sc.size is not None and (sc.size, sc.root) != (cp.size, cp.root):
            self.problem(None, f"checkpoint {cp.size}: stored size/root differ from the signed note")
        self._cps.setdefault(cp.size, []).append((cp, sc))
        self.report.checkpoints += 1
        if self.report.latest_checkpoint is None or cp.size > self.report.latest_checkpoint:
            self.report.latest_checkpoint = cp.size

    def _snapshot(self, size: int, compact: list[bytes]) -> None:
        """Compare the rebuilt tree of `size` leaves with the checkpoints signed at that size."""
        root = fold(compact)
        for cp, sc in self._cps[size]:
            if root == cp.root:
                self._last_good = size
                continue
            where, end = self._last_good, size
            reason = f"entries in [{self._last_good}, {size}) differ from what checkpoint {size} signed"
            if sc.compact is not None and len(sc.compact) == len(compact) and fold(sc.compact) == cp.root:
                for (a, h), got, signed in zip(decompose(size), compact, sc.compact, strict=True):
                    if got != signed:
                        where, end = max(a, self._last_good), a + (1 << h)
                        reason = f"an entry in [{a}, {a + (1 << h)}) differs from what checkpoint {size} signed"
                        break
            self.problem(where, reason, end)

    # --- entries ---------------------------------------------------------------------------------------------
    def problem(self, seq: int | None, reason: str, end: int | None = None) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(Problem(seq, reason, end))
        else:
            self.report.more_problems += 1

    def feed(self, rows: Iterable[Row]) -> None:
        """Check and hash entries: (stored seq or None, body, stored leaf hash or None, stored columns or None)."""
        block: list[Row] = []
        for row in rows:
            block.append(row)
            if len(block) == 4096:
                self.feed_block(block)
                block = []
        if block:
            self.feed_block(block)

    def feed_block(self, rows: Sequence[Row]) -> None:
        """`feed` for a list of rows (the fast path: per-entry work in comprehensions)."""
        if not rows:
            return
        pos = self._pos
        if rows[0][0] is not None and (rows[0][0] != pos or rows[-1][0] != pos + len(rows) - 1):
            for i, r in enumerate(rows):
                seq = r[0]
                if seq is not None and seq != pos + i:
                    where = pos + i
                    self.problem(
                        where,
                        f"entry {where} is missing (the next stored entry is {seq})"
                        if seq > where
                        else f"entry {seq} is stored twice or out of order",
                    )
                    break
        stored = [r[2] for r in rows] if rows[0][2] is not None else None
        columns = rows if len(rows[0]) > 3 else None
        leaves, problems = check_bodies(
            [r[1] for r in rows], stored, pos, self.report.first, self.hmac_keys, columns
        )  # fmt: skip
        for p in problems:
            self.problem(p.seq, p.reason, p.end)
        if self._deep:
            for i, r in enumerate(rows, pos):
                self._deep_check(i, r[1])
        self._pos = pos + len(rows)
        self._add_leaves(leaves)

    def add_chunk(self, result: ChunkResult) -> None:
        """Take a full chunk checked elsewhere (`chunk_result`); it must start where the log fed so far ends."""
        if self._buffer or result.base != self._pos or self.tree.size != self._pos or self._pos % self.chunk:
            raise ValueError(f"chunk at {result.base} does not continue the verified log at {self._pos}")
        for p in result.problems:
            self.problem(p.seq, p.reason, p.end)
        self._pos += self.chunk
        self._fold_chunk(result)

    def _add_leaves(self, leaves: list[bytes]) -> None:
        i = 0
        chunk = self.chunk
        while i < len(leaves) and not self._buffer and self.tree.size % chunk:
            self._extend_slow(leaves[i])
            i += 1
        while i < len(leaves):
            take = min(chunk - len(self._buffer), len(leaves) - i)
            self._buffer.extend(leaves[i : i + take])
            i += take
            if len(self._buffer) == chunk:
                self._flush_chunk()

    def locate_misplaced(self, pos: int, body: bytes) -> tuple[int, str]:
        """Where the trouble starts: an entry that says it is `q` at position `pos` implicates min(pos, q)."""
        return locate_misplaced(pos, body, self.report.first)

    def _deep_check(self, pos: int, body: bytes) -> None:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return  # reported by the position check
        version = doc.get("v") if isinstance(doc, dict) else None
        if version not in (1, 2) or type(version) is not int:
            self.problem(pos, f"entry {pos} is not a version 1 or 2 entry document")
            return
        if version == 2 and not ("digests" in doc and isinstance(doc.get("hmac_key"), str)):
            self.problem(pos, f"entry {pos}: a version 2 entry has digests and the id of their HMAC key")
        if version == 1 and "hmac_key" in doc:
            self.problem(pos, f"entry {pos}: a version 1 entry has no hmac_key")
        try:
            canonical_ok = canonical(doc) == body
        except ValueError:
            canonical_ok = False
        if not canonical_ok:
            self.problem(pos, f"entry {pos} is not canonical JSON (RFC 8785)")

    def _check_node(self, height: int, idx: int, value: bytes) -> None:
        stored = self._nodes.get((height, idx))
        if stored is not None and stored != value:
            # a range: the node is wrong, or one of the entries under it is (then that entry is named as well)
            self.problem(
                idx << height, f"stored tree node (height {height}, index {idx}) is wrong", (idx + 1) << height
            )

    def _extend_slow(self, leaf: bytes) -> None:
        for height, idx, value in self.tree.extend([leaf]):
            self._check_node(height, idx, value)
        if self.tree.size in self._cps:
            self._snapshot(self.tree.size, self.tree.hashes)

    def _partial(self, levels: Levels, n: int) -> list[bytes]:
        """Compact state of the first tree.size + n leaves (tree.size is chunk-aligned, n < CHUNK)."""
        return self.tree.hashes + [levels.node(a, h) for a, h in decompose(n)]

    def _flush_chunk(self) -> None:
        chunk, self._buffer = self._buffer, []
        self._fold_chunk(chunk_result(self.tree.size, chunk, self._cps, []))

    def _fold_chunk(self, result: ChunkResult) -> None:
        base = result.base
        for size in sorted(result.partials):
            if size in self._cps:
                self._snapshot(size, self.tree.hashes + result.partials[size])
        for i, value in enumerate(result.level8):
            self._check_node(8, (base >> 8) + i, value)
        h = result.root
        top = self.chunk_height
        idx = base >> top
        if top > 8 and top & 7 == 0:  # level 8 was checked above
            self._check_node(top, idx, h)
        hashes = self.tree.hashes
        s, height = idx, top
        while s & 1:
            h = node_hash(hashes.pop(), h)
            s >>= 1
            height += 1
            if height & 7 == 0:
                self._check_node(height, ((idx + 1) >> (height - top)) - 1, h)
        hashes.append(h)
        self.tree.size = base + self.chunk
        if self.tree.size in self._cps:
            self._snapshot(self.tree.size, self.tree.hashes)

    # --- verdict ---------------------------------------------------------------------------------------------
    def finish(self) -> Report:
        """Check the tail, the head and the anchor; return the report."""
        chunk = self._buffer
        levels = Levels(chunk) if chunk else None
        base = self.tree.size
        compact = list(self.tree.hashes)
        if levels is not None:
            for size in sorted(s for s in self._cps if base < s <= base + len(chunk)):
                self._snapshot(size, self._partial(levels, size - base))
            for i, value in enumerate(levels.levels[8] if len(levels.levels) > 8 else []):
                self._check_node(8, (base >> 8) + i, value)
            compact = self._partial(levels, len(chunk))
        r = self.report
        r.size = self._pos
        r.entries = self._pos - r.first
        r.root = fold(compact)
        for size in sorted(self._cps):
            if size > r.size:
                self.problem(
                    r.size,
                    f"the log ends at {r.size} entries but checkpoint {size} was signed: "
                    f"entries [{r.size}, {size}) are missing (tail truncated)",
                )
                break
        if self._head is not None:
            h = self._head
            if h.size != r.size:
                self.problem(min(h.size, r.size), f"the head says {h.size} entries, the log has {r.size}")
            elif h.root != r.root or list(h.compact) != compact:
                self._head_mismatch(list(h.compact), compact, r.size)
        if self._anchor is not None:
            self._check_anchor(self._anchor, r)
        return r

    def _head_mismatch(self, stored: list[bytes], computed: list[bytes], size: int) -> None:
        if len(stored) == len(computed):
            for (a, h), x, y in zip(decompose(size), stored, computed, strict=True):
                if x != y:
                    start = max(a, self._last_good)
                    self.problem(
                        start, f"the head's tree differs from the entries in [{start}, {a + (1 << h)})", a + (1 << h)
                    )
                    return
        self.problem(None, "the head's tree state differs from the tree of the entries")

    def _check_anchor(self, anchor: Anchor, r: Report) -> None:
        cp = self._open(anchor.note)
        if isinstance(cp, str):
            self.problem(None, f"the export's closing checkpoint does not verify: {cp}")
            return
        r.checkpoints += 1
        r.latest_checkpoint = max(r.latest_checkpoint or 0, cp.size)
        if cp.size < r.size:
            self.problem(cp.size, f"the export has {r.size} entries but its closing checkpoint only {cp.size}")
        elif not verify_consistency(r.size, cp.size, r.root, cp.root, anchor.proof):
            self.problem(None, f"the exported entries are not a prefix of the log signed at size {cp.size}")
