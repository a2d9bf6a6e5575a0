"""`POST /k8s/admit/{environment}` (and `/k8s/admit`): the Kubernetes validating admission webhook.

The environment is the path's last part: `charter k8s manifests` writes one webhook per environment, each selecting
its namespaces by the label `charter.dev/environment`, so the namespace's label decides which environment's licenses
apply. `/k8s/admit` alone reads the object's own `charter.dev/environment` label.

The API server authenticates with a Charter key (`Authorization: Bearer`, from the webhook's kubeconfig in the
API server's AdmissionConfiguration) whose principal may read licenses. Every answer is an AdmissionReview v1
(`uid` echoed, `allowed`, `status.code/message`, `warnings`), also for refusals, so the API server shows Charter's
message; every decision on a readable review is one durable audit entry (`admission.allow` / `admission.deny`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Scope, Send

from charter.auth.authorize import allowed
from charter.auth.model import Permission
from charter.core.errors import ErrorCode, Unauthenticated
from charter.core.events import AuditEvent
from charter.deployments import admission
from charter.gateway.asgi import read_body, respond
from charter.gateway.ids import decision_id
from charter.gateway.inbound import inbound

if TYPE_CHECKING:
    from charter.gateway.handler import Gateway

JSON = b"application/json"
MAX_REVIEW_BYTES = 3 << 20  # the API server's own object size limit is ~1.5 MiB
Resolver = Callable[[Sequence[str]], Mapping[str, str]]


async def _answer(send: Send, uid: str, result: admission.Admission, decision: str | None = None) -> None:
    headers = [(b"charter-decision-id", decision.encode())] if decision else []
    await respond(send, 200, orjson.dumps(admission.response(uid, result)), JSON, headers)


def _uid(body: bytes | None) -> str:
    """The request's uid when the body is at least that readable (refusals must echo it to count)."""
    try:
        doc = orjson.loads(body or b"")
        uid = doc["request"]["uid"]
        return uid if isinstance(uid, str) else ""
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return ""


async def admit(gw: Gateway, scope: Scope, receive: Receive, send: Send, resolve: Resolver) -> None:
    started = time.perf_counter()
    if scope["method"] != "POST":
        await _answer(send, "", admission.Admission(False, 405, "POST an AdmissionReview v1"))
        return
    rest = scope["path"][len("/k8s/admit") :].strip("/")
    body = await read_body(receive, MAX_REVIEW_BYTES)
    uid = _uid(body)
    if body is None:
        await _answer(send, uid, admission.Admission(False, 413, f"review exceeds {MAX_REVIEW_BYTES} bytes"))
        return
    try:
        actor = await gw.authenticate(inbound(scope["headers"]))
    except Unauthenticated as exc:
        gw.refusals.count(exc.code)
        message = f"{exc.message} (the webhook's kubeconfig gives the API server a Charter key)"
        await _answer(send, uid, admission.Admission(False, 401, message))
        return
    if not allowed(actor, Permission.LICENSE_READ, None):
        gw.refusals.count(ErrorCode.FORBIDDEN)
        await _answer(send, uid, admission.Admission(False, 403, f"{actor.ref} may not read licenses"))
        return
    try:
        review = admission.read(orjson.loads(body))
    except (orjson.JSONDecodeError, admission.BadReview) as exc:
        gw.refusals.count(ErrorCode.INVALID_REVIEW)
        await _answer(send, uid, admission.Admission(False, 400, f"unreadable AdmissionReview: {exc}"))
        return
    env = rest or review.labels.get(admission.ENV_LABEL, "")
    if not env or "/" in env or len(env) > 64:
        message = f"no environment: use /k8s/admit/ENV or label the object {admission.ENV_LABEL}"
        await _answer(send, review.uid, admission.Admission(False, 400, message))
        return
    snapshot = gw.index.snapshot
    now = time.time()
    degraded = gw.index.degraded_since(now) is not None
    images = await asyncio.to_thread(resolve, review.images) if review.images and not review.digests else {}

    def grants(digest: str, environment: str) -> Sequence[Any]:
        return snapshot.grants.get((digest, environment), ())

    if degraded:
        result = admission.Admission(False, 503, "license state cannot be read now: admission fails closed; retry")
    else:
        result = admission.decide(review, env, grants, lambda _refs: images, now)
    decision = decision_id()
    event = AuditEvent(
        actor=actor.ref,
        action="admission.allow" if result.allowed else "admission.deny",
        resource=f"k8s:{review.namespace}/{review.kind}/{review.name}"[:300],
        outcome="success" if result.allowed else "denied",
        details={
            "decision_id": decision,
            "uid": review.uid[:100],
            "environment": env,
            "operation": review.operation[:20],
            "licenses": list(result.license_ids),
            "code": result.code,
            "message": result.message[:500],
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        },
        governance=False,
    )
    if review.dry_run:
        await _answer(send, review.uid, result)
        return
    try:
        await gw.audit.append(event)
    except Exception:
        message = "the audit log cannot be written, so nothing is admitted; retry shortly"
        await _answer(send, review.uid, admission.Admission(False, 503, message))
        return
    await _answer(send, review.uid, result, decision)
