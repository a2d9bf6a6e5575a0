"""The witness's HTTP interface (https://c2sp.org/tlog-witness):

    POST /add-checkpoint             old size, consistency proof, checkpoint → a cosignature line (200), or
                                     400 malformed, 403 no valid signature by a trusted log key, 404 unknown origin,
                                     409 old size ≠ the latest cosigned size (body: that size, text/x.tlog.size),
                                     422 proof or roots do not hold (a rollback or a fork)
    GET  /{sha256(origin) hex}/checkpoint   the latest cosigned checkpoint of that log (404 when none)

Only logs whose note verifier keys it was given (`--log`) are witnessed; a cosignature says: as of its timestamp,
this is the largest consistent tree this witness has seen for the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from charter.audit import cosign
from charter.audit.note import NoteError, Verifier, open_note, parse_checkpoint
from charter.audit.proofs import verify_consistency
from charter.core.signing import SigningKey
from charter.witness.state import Latest, Mismatch, State

log = logging.getLogger("charter.witness")

MAX_BODY = 64 << 10
EMPTY_ROOT = hashlib.sha256(b"").digest()


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def origin_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()


class Witness:
    """The witness's logic, apart from HTTP: `add(body)` returns the cosignature line or raises `Refused`."""

    def __init__(
        self,
        name: str,
        key: SigningKey,
        logs: Sequence[Verifier],
        state: State,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.key = key
        self.logs: dict[str, list[Verifier]] = {}
        for v in logs:
            self.logs.setdefault(v.name, []).append(v)
        self.state = state
        self.clock = clock

    @property
    def vkey(self) -> str:
        return cosign.cosigner_key(self.name, self.key.public_raw)

    def add(self, body: bytes) -> str:
        try:
            req = cosign.parse_add_checkpoint(body)
            text, _ = cosign.split_note(req.note)
            cp = parse_checkpoint(text)
        except NoteError as exc:
            raise Refused(400, exc.message) from None
        keys = self.logs.get(cp.origin)
        if not keys:
            raise Refused(404, f"unknown log origin {cp.origin[:200]!r}")
        if not any(_signed_by(req.note, v) for v in keys):
            raise Refused(403, "the checkpoint carries no valid signature by a trusted key of its log")
        if req.old_size > cp.size:
            raise Refused(400, f"old size {req.old_size} exceeds the checkpoint size {cp.size}")
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise Refused(422, "a checkpoint of size 0 must have the empty tree's root")

        made: list[str] = []

        def check(current: Latest | None) -> tuple[int, bytes, str]:
            if req.old_size == 0:
                if req.proof:
                    raise Refused(422, "old size 0 takes no consistency proof")
            elif current is None or not verify_consistency(
                req.old_size, cp.size, current.root, cp.root, list(req.proof)
            ):
                what = "a different root at the same size (a fork)" if req.old_size == cp.size else "not consistent"
                raise Refused(422, f"checkpoint {cp.size} is {what} with the cosigned checkpoint {req.old_size}")
            made.append(cosign.cosign(text, self.name, self.key, max(1, int(self.clock()))))
            return cp.size, cp.root, req.note + made[0]

        self.state.advance(cp.origin, req.old_size, check)  # Mismatch → 409 with the stored size
        log.info("cosigned %s at size %d", cp.origin, cp.size)
        return made[0]

    def latest(self, hashed_origin: str) -> str | None:
        for origin in self.logs:
            if origin_hash(origin) == hashed_origin:
                found = self.state.latest(origin)
                return found.note if found else None
        return None


def _signed_by(note: str, verifier: Verifier) -> bool:
    try:
        open_note(note, verifier)
    except NoteError:
        return False
    return True


def create(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return PlainTextResponse(f"body over {MAX_BODY} bytes\n", status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse(f"body over {MAX_BODY} bytes\n", status_code=413)
        try:
            line = await asyncio.to_thread(witness.add, body)
        except Mismatch as exc:
            return Response(f"{exc.latest}\n", status_code=409, media_type="text/x.tlog.size")
        except Refused as exc:
            return PlainTextResponse(f"{exc}\n", status_code=exc.status)
        return PlainTextResponse(line)

    async def checkpoint(request: Request) -> Response:
        note = await asyncio.to_thread(witness.latest, request.path_params["origin_hash"])
        if note is None:
            return PlainTextResponse("no checkpoint cosigned for that log\n", status_code=404)
        return PlainTextResponse(note)

    async def key(_: Request) -> Response:
        return PlainTextResponse(witness.vkey + "\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
            Route("/witness-key", key, methods=["GET"]),
        ]
    )
