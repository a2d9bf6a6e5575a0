"""The log's side of the witness protocol: submit each new checkpoint to the configured witnesses, keep their
cosignatures, and say when a checkpoint is witnessed (a quorum of them cosigned it).

`CHARTER_WITNESSES` lists the witnesses as `VKEY@URL` (the witness's cosigner key, `name+id+base64(0x04||key)`,
and its submission URL), comma-separated; `CHARTER_WITNESS_QUORUM` is how many must cosign (default: all).
A witness remembers the largest tree it cosigned: it refuses a checkpoint that does not extend it (a truncated or
rewritten log, a fork), so a rolled-back log can no longer get cosignatures, and `charter audit verify
--witness-key` compares the log with what the witnesses cosigned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from charter.audit import cosign
from charter.audit.cosign import Cosigner
from charter.audit.note import NoteError
from charter.audit.proofs import consistency_proof
from charter.core.errors import InvalidInput

log = logging.getLogger("charter.audit")

Proof = Callable[[int, int], list[bytes]]


@dataclass(frozen=True, slots=True)
class Target:
    cosigner: Cosigner
    url: str

    @property
    def name(self) -> str:
        return self.cosigner.name


def parse_targets(text: str, field_name: str = "CHARTER_WITNESSES") -> list[Target]:
    """`VKEY@URL,VKEY@URL` → targets; InvalidInput naming the entry that is not one."""
    out: list[Target] = []
    for i, entry in enumerate(e.strip() for e in text.split(",") if e.strip()):
        vkey, at, url = entry.partition("@")
        if not at or not url.startswith(("http://", "https://")):
            raise InvalidInput(f"{field_name} entry {i + 1} must be WITNESS_KEY@http(s)://host:port", field=field_name)
        try:
            out.append(Target(Cosigner.parse(vkey), url.rstrip("/")))
        except NoteError as exc:
            raise InvalidInput(f"{field_name} entry {i + 1}: {exc.message}", field=field_name) from None
    return out


@dataclass
class Outcome:
    size: int
    note: str  # the checkpoint with the cosignatures received
    cosigned_by: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


class Witnessing:
    """Submits checkpoints; `latest` is the newest checkpoint with its cosignatures, `witnessed` the newest one
    cosigned by a quorum."""

    def __init__(self, targets: Sequence[Target], quorum: int = 0, *, timeout_s: float = 5.0) -> None:
        self.targets = list(targets)
        if quorum > len(self.targets):
            raise InvalidInput(
                f"CHARTER_WITNESS_QUORUM is {quorum} but CHARTER_WITNESSES names {len(self.targets)} witness(es): "
                "no checkpoint could ever be witnessed; lower the quorum or add witnesses",
                field="CHARTER_WITNESS_QUORUM",
            )
        self.quorum = quorum or len(self.targets)
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._known: dict[str, int] = {}  # the size each witness last cosigned, as far as this process knows
        self.latest: Outcome | None = None
        self.witnessed: Outcome | None = None

    def submit(self, size: int, note: str, proof: Proof) -> Outcome:
        """Ask every witness to cosign the checkpoint (`note`, of `size` entries); `proof(old, new)` gives the
        consistency proof from a witness's last size."""
        out = Outcome(size, note)
        for target in self.targets:
            line, why = self._one(target, size, note, proof)
            if line is not None:
                out.note += line
                out.cosigned_by.append(target.name)
            else:
                out.refused[target.name] = why
                log.error("witness %s did not cosign checkpoint %d: %s", target.name, size, why)
        self.latest = out
        if len(out.cosigned_by) >= self.quorum:
            self.witnessed = out
        return out

    def _one(self, target: Target, size: int, note: str, proof: Proof) -> tuple[str | None, str]:
        for _ in range(3):  # a 409 tells the witness's size; the second try carries the right proof
            old = self._known.get(target.name, 0)
            if old > size:
                log.critical(
                    "witness %s cosigned %d entries but this log has %d: the log was rolled back",
                    target.name,
                    old,
                    size,
                )
                return None, f"the witness cosigned {old} entries, the log has {size}: the log was rolled back"
            body = cosign.add_checkpoint_body(old, proof(old, size) if 0 < old < size else [], note)
            try:
                resp = self._client.post(target.url + "/add-checkpoint", content=body)
            except httpx.HTTPError as exc:
                return None, f"unreachable ({type(exc).__name__})"
            if resp.status_code == 409 and resp.headers.get("content-type", "").startswith("text/x.tlog.size"):
                text = resp.text.strip()
                if not text.isdigit():
                    return None, "409 without a size"
                self._known[target.name] = int(text)
                continue
            if resp.status_code == 422:  # a fork, or a tree that does not extend the witnessed one
                why = f"422: {resp.text.strip()[:300]}"
                log.critical(
                    "witness %s refused checkpoint %d (%s): this log does not extend the checkpoint it cosigned; "
                    "it was rolled back or rewritten",
                    target.name,
                    size,
                    why,
                )
                return None, f"{why}: the log does not extend the checkpoint it cosigned (rolled back or rewritten)"
            if resp.status_code != 200:
                return None, f"{resp.status_code}: {resp.text.strip()[:300]}"
            line = _cosignature(resp.text, note, target.cosigner)
            if line is None:
                return None, "its answer carries no valid cosignature by its key"
            self._known[target.name] = size
            return line, ""
        return None, "the witness's size kept changing"

    def close(self) -> None:
        self._client.close()


def _cosignature(answer: str, note: str, cosigner: Cosigner) -> str | None:
    """The answer's signature line that is a valid cosignature of `note` by `cosigner`."""
    for line in answer.splitlines():
        candidate = line + "\n"
        try:
            if cosign.cosigned_at(note + candidate, cosigner) is not None:
                return candidate
        except NoteError:
            continue
    return None


def proof_from(range_hash: Callable[[int, int], bytes]) -> Proof:
    return lambda old, new: consistency_proof(old, new, range_hash)


@dataclass(frozen=True, slots=True)
class Vouched:
    """The latest checkpoint a witness cosigned for a log, as it serves it (with its cosignature checked)."""

    witness: str
    size: int
    note: str


def fetch_cosigned(
    targets: Sequence[Target], origin: str, *, timeout_s: float = 10.0
) -> tuple[list[Vouched], list[str]]:
    """Ask each witness (monitoring API: `GET <url>/<sha256(origin) hex>/checkpoint`) for the latest checkpoint it
    cosigned for `origin`; those whose answer carries a valid cosignature by the witness, and why the others fail."""
    import hashlib

    from charter.audit.note import parse_checkpoint

    hashed = hashlib.sha256(origin.encode()).hexdigest()
    vouched: list[Vouched] = []
    problems: list[str] = []
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for t in targets:
            try:
                resp = client.get(f"{t.url}/{hashed}/checkpoint")
            except httpx.HTTPError as exc:
                problems.append(f"witness {t.name}: unreachable ({type(exc).__name__})")
                continue
            if resp.status_code != 200:
                problems.append(f"witness {t.name}: {resp.status_code} {resp.text.strip()[:200]}")
                continue
            try:
                if cosign.cosigned_at(resp.text, t.cosigner) is None:
                    problems.append(f"witness {t.name}: its checkpoint carries no valid cosignature by its key")
                    continue
                body, _ = cosign.split_note(resp.text)
                cp = parse_checkpoint(body)
            except NoteError as exc:
                problems.append(f"witness {t.name}: {exc.message}")
                continue
            if cp.origin != origin:
                problems.append(f"witness {t.name}: cosigned origin {cp.origin!r}, not {origin!r}")
                continue
            vouched.append(Vouched(t.name, cp.size, resp.text))
    return vouched, problems
