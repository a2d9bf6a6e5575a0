"""Kubernetes admission decisions (AdmissionReview v1) and the external-authorization decision cache: pure logic."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from charter.deployments import admission
from charter.deployments.model import Grant, Reason, Verdict
from charter.gateway.authz import deployment_from_path, mcp_tools
from charter.gateway.decision_cache import DecisionCache

NOW = 1_800_000_000.0
MODEL = "sha256:" + "ab" * 32
IMAGE_DIGEST = "sha256:" + "cd" * 32
IMAGE = f"registry.example/models/credit@{IMAGE_DIGEST}"


def grant(**kw: Any) -> Grant:
    base: dict[str, Any] = {
        "license_id": "lic_1",
        "digest": MODEL,
        "env": "production",
        "state": "active",
        "nbf": NOW - 60,
        "exp": NOW + 90 * 86400,
    }
    return Grant(**{**base, **kw})


def review(kind: str, obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    group = "serving.kserve.io" if kind == "InferenceService" else "apps" if kind == "Deployment" else ""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
            "namespace": "lending",
            "name": "credit",
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": obj,
            "dryRun": False,
        },
    }


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "credit", "namespace": "lending"},
    "spec": {
        "initContainers": [{"name": "storage-initializer", "image": "kserve/storage-initializer:v0.15"}],
        "containers": [
            {"name": "kserve-container", "image": "kserve/sklearnserver:v0.15"},
            {"name": "modelcar", "image": IMAGE},
        ],
    },
}
ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "credit", "namespace": "lending"},
    "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": f"oci://{IMAGE}"}}},
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "credit", "namespace": "lending"},
    "spec": {
        "template": {
            "metadata": {"annotations": {admission.ANNOTATION: MODEL}},
            "spec": {"containers": [{"name": "server", "image": "ghcr.io/acme/credit-server:1.4"}]},
        }
    },
}


def decide(doc: dict[str, Any], grants: list[Grant], resolved: dict[str, str] | None = None) -> admission.Admission:
    r = admission.read(doc)
    by_key: dict[tuple[str, str], list[Grant]] = {}
    for g in grants:
        by_key.setdefault((g.digest, g.env), []).append(g)
    return admission.decide(r, "production", lambda d, e: by_key.get((d, e), []), lambda refs: resolved or {}, NOW)


@pytest.mark.parametrize("obj", [POD, ISVC], ids=["modelcar-pod", "kserve-isvc"])
def test_modelcar_image_resolves_to_the_registered_version(obj: dict[str, Any]) -> None:
    assert admission.read(review(obj["kind"], obj)).images == (IMAGE,)
    result = decide(review(obj["kind"], obj), [grant()], {IMAGE: MODEL})
    assert result.allowed and result.license_ids == ("lic_1",)
    # Not registered: the image digest itself must be a licensed model's digest.
    assert not decide(review(obj["kind"], obj), [grant()]).allowed
    assert decide(review(obj["kind"], obj), [grant(digest=IMAGE_DIGEST)]).allowed


def test_annotation_on_the_pod_template() -> None:
    assert decide(review("Deployment", DEPLOYMENT), [grant()]).allowed
    refused = decide(review("Deployment", DEPLOYMENT), [grant(env="staging")])
    assert not refused.allowed and refused.code == 403
    assert f"no active license for model {MODEL} in environment 'production'" in refused.message
    assert "charter license request" in refused.message


@pytest.mark.parametrize(
    ("state", "fields"),
    [("suspended", {}), ("revoked", {}), ("active", {"exp": NOW - 1}), ("active", {"nbf": NOW + 60})],
)
def test_only_an_active_license_valid_now_admits(state: str, fields: dict[str, Any]) -> None:
    result = decide(review("Deployment", DEPLOYMENT), [grant(state=state, **fields)])
    assert not result.allowed and result.code == 403


def test_expiring_license_admits_with_a_warning() -> None:
    result = decide(review("Deployment", DEPLOYMENT), [grant(exp=NOW + 3 * 86400)])
    assert result.allowed and result.warnings and "expires in 3.0 days" in result.warnings[0]
    doc = admission.response("uid-1", result)
    assert doc == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "uid-1", "allowed": True, "warnings": list(result.warnings)},
    }


def test_refusal_response_shape() -> None:
    result = decide(review("Deployment", DEPLOYMENT), [])
    doc = admission.response("uid-2", result)
    assert doc["response"]["allowed"] is False
    assert doc["response"]["status"]["code"] == 403 and doc["response"]["status"]["message"] == result.message


def test_no_model_named_is_refused_and_delete_is_admitted() -> None:
    plain = copy.deepcopy(DEPLOYMENT)
    plain["spec"]["template"]["metadata"] = {}
    result = decide(review("Deployment", plain), [grant()])
    assert not result.allowed and admission.ANNOTATION in result.message
    assert decide(review("Deployment", plain, operation="DELETE"), []).allowed


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(apiVersion="admission.k8s.io/v1beta1"), "apiVersion"),
        (lambda d: d["request"].pop("uid"), "request.uid"),
        (lambda d: d.update(request=[]), "request"),
        (lambda d: d["request"].update(kind="Pod"), "request.kind"),
        (
            lambda d: d["request"]["object"]["spec"]["template"]["metadata"]["annotations"].update(
                {admission.ANNOTATION: "md5:abc"}
            ),
            admission.ANNOTATION,
        ),
    ],
)
def test_unreadable_reviews_name_the_field(mutate: Any, field: str) -> None:
    doc = review("Deployment", copy.deepcopy(DEPLOYMENT))
    mutate(doc)
    with pytest.raises(admission.BadReview, match=field.replace(".", r"\.")):
        admission.read(doc)


def test_other_kinds_are_refused() -> None:
    result = decide(review("ConfigMap", {"metadata": {}}), [grant()])
    assert not result.allowed and result.code == 400


def test_paths_and_mcp_headers() -> None:
    assert deployment_from_path("/gw/credit-prod/v1/score?x=1") == "credit-prod"
    assert deployment_from_path("/mcp/crm-tools") == "crm-tools"
    assert deployment_from_path("/models/credit") is None
    assert deployment_from_path("/gw/") is None
    assert mcp_tools({b"mcp-method": b"tools/call", b"mcp-name": b"lookup_customer"}) == ("lookup_customer",)
    assert mcp_tools({b"mcp-method": b"tools/list"}) == ()


def test_decision_cache_is_dropped_by_a_new_license_state_version() -> None:
    cache = DecisionCache(max_entries=2)
    allow = Verdict(True, grant=grant())
    key = ("app:a", "credit", "scoring", ())
    assert cache.get(key, 1, NOW) is None
    cache.put(key, 1, allow)
    assert cache.get(key, 1, NOW) is allow
    assert cache.get(key, 2, NOW) is None  # a license changed: nothing from version 1 is served
    cache.put(key, 1, allow)  # a verdict reached on an older version is not remembered
    assert cache.get(key, 2, NOW) is None
    cache.put(key, 2, Verdict(False, Reason.NO_LICENSE))  # refusals are not cached
    cache.put(key, 2, Verdict(True, grant=grant(), degraded=True))  # nor degraded allows
    assert len(cache) == 0
    cache.put(key, 2, Verdict(True, grant=grant(exp=NOW + 1)))
    assert cache.get(key, 2, NOW + 2) is None  # the license ended
    for i in range(3):
        cache.put(("app:a", f"d{i}", None, ()), 2, allow)
    assert len(cache) == 2


# --- `charter k8s manifests` -------------------------------------------------------------------------------------


def _vap_allows(policy: dict[str, Any], obj: dict[str, Any], ns_labels: dict[str, str], data: dict[str, str]) -> bool:
    """Evaluate the ValidatingAdmissionPolicy the way the API server does: variables in order, then the validation
    (Kubernetes' CEL string extensions `replace` and `split` supplied as functions)."""
    import cel

    ctx = cel.Context()
    ctx.add_function("replace", lambda s, a, b: s.replace(a, b))
    ctx.add_function("split", lambda s, sep: s.split(sep))
    values: dict[str, Any] = {}
    ctx.add_variable("object", obj)
    ctx.add_variable("namespaceObject", {"metadata": {"labels": ns_labels}})
    ctx.add_variable("params", {"data": data})
    for var in policy["spec"]["variables"]:
        ctx.add_variable("variables", dict(values))
        values[var["name"]] = cel.evaluate(var["expression"], ctx)
    ctx.add_variable("variables", dict(values))
    (validation,) = policy["spec"]["validations"]
    return bool(cel.evaluate(validation["expression"], ctx))


def test_manifests_webhook_per_environment_and_a_fallback_policy() -> None:
    from charter.cli.commands import k8s

    licenses = [
        {"state": "active", "digest": MODEL, "env": "production"},
        {"state": "active", "digest": MODEL, "env": "staging"},
        {"state": "suspended", "digest": IMAGE_DIGEST, "env": "production"},
    ]
    data = k8s.params_data(licenses)
    assert data == {MODEL.replace(":", "."): "production,staging"}
    docs = k8s.manifests(
        namespace="charter",
        envs=["production", "staging"],
        service="charter",
        port=8400,
        url=None,
        ca_bundle=b"-----BEGIN CERTIFICATE-----",
        on_down="fail",
        data=data,
    )
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "ValidatingWebhookConfiguration",
        "ConfigMap",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    hooks = docs[0]["webhooks"]
    assert [h["clientConfig"]["service"]["path"] for h in hooks] == ["/k8s/admit/production", "/k8s/admit/staging"]
    for hook in hooks:
        assert hook["timeoutSeconds"] == 2 and hook["failurePolicy"] == "Fail"
        assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "NoneOnDryRun"
        assert hook["namespaceSelector"]["matchLabels"]["charter.dev/environment"] in ("production", "staging")
        assert hook["objectSelector"] == {"matchLabels": {"charter.dev/governed": "true"}}
        assert {r["resources"][0] for r in hook["rules"]} == {"pods", "deployments", "inferenceservices"}
    policy = docs[2]
    prod = {"charter.dev/environment": "production"}
    assert _vap_allows(policy, DEPLOYMENT, prod, data)
    assert _vap_allows(policy, DEPLOYMENT, {"charter.dev/environment": "staging"}, data)
    assert not _vap_allows(policy, DEPLOYMENT, {"charter.dev/environment": "research"}, data)
    pod = {"kind": "Pod", "metadata": {"annotations": {admission.ANNOTATION: MODEL}}, "spec": {}}
    assert _vap_allows(policy, pod, prod, data)
    assert not _vap_allows(policy, {"kind": "Pod", "metadata": {}, "spec": {}}, prod, data)
    other = {"kind": "Pod", "metadata": {"annotations": {admission.ANNOTATION: IMAGE_DIGEST}}, "spec": {}}
    assert not _vap_allows(policy, other, prod, data)  # its only license is suspended
    binding = docs[3]["spec"]
    assert binding["validationActions"] == ["Deny"] and binding["paramRef"]["parameterNotFoundAction"] == "Deny"
