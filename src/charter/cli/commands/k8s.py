"""k8s manifests: the admission webhook and its fallback policy, ready for `kubectl apply -f -`.

One `ValidatingWebhookConfiguration` with a webhook per environment (namespaces labelled
`charter.dev/environment: ENV`, objects labelled `charter.dev/governed: "true"`) calling `/k8s/admit/ENV`,
`timeoutSeconds: 2`; and a `ValidatingAdmissionPolicy` with its binding and a params ConfigMap (model digest →
environments with an active license, read from Charter now) that the API server evaluates itself, so admission
keeps deciding by licenses, as of the last export, when the webhook is down.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from charter.cli.client import Api
from charter.cli.errors import EXIT_USAGE, CliError
from charter.core.errors import ErrorCode

k8s_app = typer.Typer(help="Kubernetes: admission webhook manifests for the licenses Charter holds.")

GOVERNED = "charter.dev/governed"
ENV_LABEL = "charter.dev/environment"
ANNOTATION = "charter.dev/model-digest"
NAME = "charter-model-licenses"

_RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]},
    {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]},
    {
        "apiGroups": ["serving.kserve.io"],
        "apiVersions": ["v1beta1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": ["inferenceservices"],
    },
]

# CEL for the API server (Kubernetes' CEL environment, with its string extensions): the annotation of the object
# or of its pod template, the namespace's environment label, and the params ConfigMap's `sha256.HEX` keys.
_VARIABLES = [
    {
        "name": "annotations",
        "expression": (
            "object.kind == 'Deployment' ? "
            "(has(object.spec.template.metadata.annotations) ? object.spec.template.metadata.annotations : {}) : "
            "(has(object.metadata.annotations) ? object.metadata.annotations : {})"
        ),
    },
    {
        "name": "digest",
        "expression": f"'{ANNOTATION}' in variables.annotations ? variables.annotations['{ANNOTATION}'] : ''",
    },
    {
        "name": "env",
        "expression": (
            f"has(namespaceObject.metadata.labels) && '{ENV_LABEL}' in namespaceObject.metadata.labels ? "
            f"namespaceObject.metadata.labels['{ENV_LABEL}'] : ''"
        ),
    },
    {"name": "key", "expression": "variables.digest.replace(':', '.')"},
]
_VALIDATION = {
    "expression": (
        "variables.digest != '' && has(params.data) && variables.key in params.data && "
        "variables.env in params.data[variables.key].split(',')"
    ),
    "messageExpression": (
        "'Charter: no active license for model ' + (variables.digest == '' ? "
        f"'(annotate {ANNOTATION})' : variables.digest) + ' in environment ' + variables.env"
    ),
    "reason": "Forbidden",
}


def params_data(licenses: list[dict[str, Any]]) -> dict[str, str]:
    """`sha256.HEX` (a ConfigMap key may not hold ':') → comma-separated environments with an active license."""
    envs: dict[str, set[str]] = {}
    for lic in licenses:
        if lic.get("state") == "active":
            envs.setdefault(str(lic["digest"]).replace(":", "."), set()).add(str(lic["env"]))
    return {k: ",".join(sorted(v)) for k, v in sorted(envs.items())}


def manifests(
    *,
    namespace: str,
    envs: list[str],
    service: str,
    port: int,
    url: str | None,
    ca_bundle: bytes | None,
    on_down: str,
    data: dict[str, str],
) -> list[dict[str, Any]]:
    """The documents, in apply order."""
    webhooks = []
    for env in envs:
        client: dict[str, Any]
        if url:
            client = {"url": f"{url.rstrip('/')}/k8s/admit/{env}"}
        else:
            client = {"service": {"namespace": namespace, "name": service, "port": port, "path": f"/k8s/admit/{env}"}}
        if ca_bundle:
            client["caBundle"] = base64.b64encode(ca_bundle).decode()
        webhooks.append(
            {
                "name": f"{env}.models.charter.dev",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "NoneOnDryRun",  # each decision is audited, except dry runs
                "timeoutSeconds": 2,
                "failurePolicy": "Ignore" if on_down == "policy" else "Fail",
                "matchPolicy": "Equivalent",
                "clientConfig": client,
                "rules": _RULES,
                "namespaceSelector": {"matchLabels": {ENV_LABEL: env}},
                "objectSelector": {"matchLabels": {GOVERNED: "true"}},
            }
        )
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": NAME},
            "webhooks": webhooks,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{NAME}-params", "namespace": namespace},
            "data": data,
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": NAME},
            "spec": {
                "failurePolicy": "Fail",
                "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                "matchConstraints": {
                    "resourceRules": _RULES,
                    "objectSelector": {"matchLabels": {GOVERNED: "true"}},
                    "namespaceSelector": {"matchExpressions": [{"key": ENV_LABEL, "operator": "Exists"}]},
                },
                "variables": _VARIABLES,
                "validations": [_VALIDATION],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": NAME},
            "spec": {
                "policyName": NAME,
                "validationActions": ["Deny"],
                "paramRef": {"name": f"{NAME}-params", "namespace": namespace, "parameterNotFoundAction": "Deny"},
            },
        },
    ]


@k8s_app.command("manifests")
def manifests_cmd(
    namespace: Annotated[str, typer.Option("--namespace", help="Namespace Charter's Service runs in.")] = "charter",
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Environment to admit (repeatable; default: those licensed).")
    ] = None,
    service: Annotated[str, typer.Option("--service", help="Charter's Service name.")] = "charter",
    port: Annotated[int, typer.Option("--port", help="Charter's Service port.")] = 8400,
    url: Annotated[
        str | None, typer.Option("--webhook-url", help="The API server calls Charter at this https URL instead.")
    ] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option("--ca-bundle", help="PEM file of the CA that signed Charter's TLS certificate.")
    ] = None,
    on_webhook_down: Annotated[
        str,
        typer.Option(
            "--on-webhook-down",
            help="fail: refuse while Charter is unreachable (default); policy: let the fallback policy decide.",
        ),
    ] = "fail",
) -> None:
    """Print the admission webhook, the fallback policy and its params as YAML, for `kubectl apply -f -`."""
    if on_webhook_down not in ("fail", "policy"):
        raise CliError(ErrorCode.USAGE, "--on-webhook-down must be 'fail' or 'policy'", EXIT_USAGE)
    if url is not None and not url.startswith("https://"):
        raise CliError(
            ErrorCode.USAGE, "--webhook-url must be an https:// URL: the API server calls webhooks over TLS", EXIT_USAGE
        )
    bundle = None
    if ca_bundle is not None:
        try:
            bundle = ca_bundle.read_bytes()
        except OSError as exc:
            raise CliError(ErrorCode.USAGE, f"--ca-bundle {ca_bundle}: {exc.strerror}", EXIT_USAGE) from None
        if b"-----BEGIN CERTIFICATE-----" not in bundle:
            raise CliError(ErrorCode.USAGE, f"--ca-bundle {ca_bundle}: not a PEM certificate file", EXIT_USAGE)
    licenses: list[dict[str, Any]] = Api().get_all("/licenses", {"state": "active"})
    data = params_data(licenses)
    envs = list(dict.fromkeys(env or sorted({str(lic["env"]) for lic in licenses if lic.get("state") == "active"})))
    if not envs:
        raise CliError(ErrorCode.USAGE, "no active license names an environment yet: pass --env ENV", EXIT_USAGE)
    docs = manifests(
        namespace=namespace,
        envs=envs,
        service=service,
        port=port,
        url=url,
        ca_bundle=bundle,
        on_down=on_webhook_down,
        data=data,
    )
    typer.echo(yaml.safe_dump_all(docs, sort_keys=False), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(k8s_app, name="k8s")
