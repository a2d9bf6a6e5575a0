"""Kubernetes admission (AdmissionReview v1): may this workload run this model in this environment?

Pure functions: read the review, find the model digests the object runs, decide against the license grants,
write the response. The HTTP side is `charter.gateway.admit`.

Where the model digest comes from, first match wins:
1. the annotation `charter.dev/model-digest: sha256:<hex>` on the object, or on a Deployment's pod template;
2. a KServe `InferenceService`'s `storageUri` (`spec.predictor.model.storageUri` or any
   `spec.predictor.<framework>.storageUri`) of the form `oci://…@sha256:<hex>` (a modelcar);
3. a Pod's (or pod template's) container named `modelcar` (what KServe injects for OCI models), by image digest.
An image digest names the OCI manifest, not the model files: it matches a model version registered with that
image as its URI (`oci://REPO@sha256:…`), or one whose artifact digest it is.
An object that names no model is refused: the webhook only sees objects its selectors say are model workloads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from charter.deployments.model import Grant

ANNOTATION = "charter.dev/model-digest"
ENV_LABEL = "charter.dev/environment"
CALLER = "k8s:admission"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_IMAGE_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
_KINDS = ("Pod", "Deployment", "InferenceService")
EXPIRY_WARNING_S = 7 * 24 * 3600


class BadReview(ValueError):
    """Not an AdmissionReview v1 request Charter can read; the message names the field."""


@dataclass(frozen=True, slots=True)
class Review:
    uid: str
    kind: str
    namespace: str
    name: str
    operation: str
    labels: Mapping[str, str]
    digests: tuple[str, ...]  # sha256:<hex> found directly (annotation)
    images: tuple[str, ...]  # OCI references with a digest, to resolve to model versions
    dry_run: bool = False  # decided as usual, not audited (the webhook declares sideEffects: NoneOnDryRun)


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    code: int = 200
    message: str = ""
    warnings: tuple[str, ...] = ()
    license_ids: tuple[str, ...] = field(default=())


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReview(f"{where} must be an object")
    return value


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def _containers(spec: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for key in ("initContainers", "containers"):
        items = spec.get(key)
        if isinstance(items, list):
            yield from (c for c in items if isinstance(c, dict))


def read(doc: Any) -> Review:
    """The parts of an AdmissionReview v1 request the decision needs; `BadReview` names what is missing."""
    review = _dict(doc, "body")
    if review.get("apiVersion") != "admission.k8s.io/v1" or review.get("kind") != "AdmissionReview":
        raise BadReview("apiVersion must be admission.k8s.io/v1 and kind AdmissionReview")
    request = _dict(review.get("request"), "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid must be a non-empty string")
    kind = _dict(request.get("kind"), "request.kind").get("kind")
    obj = _obj(request.get("object"))
    meta = _obj(obj.get("metadata"))
    annotations = _str_map(meta.get("annotations"))
    labels = _str_map(meta.get("labels"))
    spec = _obj(obj.get("spec"))
    digests: list[str] = []
    images: list[str] = []
    pod_spec: Mapping[str, Any] = {}
    if kind == "Pod":
        pod_spec = spec
    elif kind == "Deployment":
        template = _obj(spec.get("template"))
        tmeta = _obj(template.get("metadata"))
        annotations = {**_str_map(tmeta.get("annotations")), **annotations}
        labels = {**_str_map(tmeta.get("labels")), **labels}
        pod_spec = _obj(template.get("spec"))
    elif kind == "InferenceService":
        predictor = _obj(spec.get("predictor"))
        for part in predictor.values():
            uri = part.get("storageUri") if isinstance(part, dict) else None
            if isinstance(uri, str) and uri.startswith("oci://") and _IMAGE_DIGEST.search(uri):
                images.append(uri.removeprefix("oci://"))
    note = annotations.get(ANNOTATION)
    if note is not None:
        if not _DIGEST.fullmatch(note.strip()):
            raise BadReview(f"annotation {ANNOTATION} must be sha256:<64 lowercase hex>, got {note[:80]!r}")
        digests.append(note.strip())
    for container in _containers(pod_spec):
        image = container.get("image")
        if container.get("name") == "modelcar" and isinstance(image, str) and _IMAGE_DIGEST.search(image):
            images.append(image)
    return Review(
        uid=uid,
        kind=str(kind),
        namespace=str(request.get("namespace") or meta.get("namespace") or ""),
        name=str(request.get("name") or meta.get("name") or ""),
        operation=str(request.get("operation") or ""),
        labels=labels,
        digests=tuple(dict.fromkeys(digests)),
        images=tuple(dict.fromkeys(images)),
        dry_run=request.get("dryRun") is True,
    )


def image_digest(image: str) -> str:
    match = _IMAGE_DIGEST.search(image)
    assert match is not None
    return match.group(1)


def decide(
    review: Review,
    env: str,
    grants: Callable[[str, str], Sequence[Grant]],
    resolve: Callable[[Sequence[str]], Mapping[str, str]],
    now: float,
) -> Admission:
    """Allowed only when every model the object runs has an active license for `env` now.

    `resolve` maps OCI image references to model version digests (by registered URI); `grants(digest, env)`
    are the index's licenses for a model version in an environment.
    """
    if review.kind not in _KINDS:
        return Admission(False, 400, f"Charter admits {', '.join(_KINDS)}; got kind {review.kind[:60]!r}")
    if review.operation == "DELETE":
        return Admission(True)
    digests = list(review.digests)
    if not digests:
        mapped = resolve(review.images)
        for image in review.images:
            digests.append(mapped.get(image) or image_digest(image))
    if not digests:
        return Admission(
            False,
            403,
            f"{review.kind} {review.namespace}/{review.name} names no model: annotate it with {ANNOTATION}: "
            "sha256:<digest of the licensed model version> (or use a KServe oci://…@sha256 modelcar)",
        )
    warnings: list[str] = []
    licenses: list[str] = []
    for digest in dict.fromkeys(digests):
        active = [g for g in grants(digest, env) if g.state == "active" and g.nbf <= now < g.exp]
        if not active:
            others = sorted({g.state for g in grants(digest, env)})
            known = f" (licenses here: {', '.join(others)})" if others else ""
            return Admission(
                False,
                403,
                f"no active license for model {digest} in environment '{env}'{known}: request one with "
                f"`charter license request SYSTEM@VERSION --env {env} ...` before deploying "
                f"{review.kind} {review.namespace}/{review.name}",
            )
        best = max(active, key=lambda g: g.exp)
        licenses.append(best.license_id)
        if best.exp - now < EXPIRY_WARNING_S:
            days = max(0.0, (best.exp - now) / 86400)
            warnings.append(f"Charter license {best.license_id} for {digest} expires in {days:.1f} days: renew it")
    return Admission(True, 200, "", tuple(warnings), tuple(licenses))


def response(uid: str, admission: Admission) -> dict[str, Any]:
    """The AdmissionReview v1 response document."""
    body: dict[str, Any] = {"uid": uid, "allowed": admission.allowed}
    if not admission.allowed:
        body["status"] = {"code": admission.code, "message": admission.message}
    if admission.warnings:
        body["warnings"] = list(admission.warnings)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": body}
