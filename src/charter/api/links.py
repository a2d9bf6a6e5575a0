"""OpenAPI links from each create operation to the operations that read, change or use what it created.

A client (or a stateful fuzzer such as schemathesis) follows them to go from `POST /systems` to
`GET /systems/{name}` with the name the answer gave. Each link names its target by `operationId`.
"""

from __future__ import annotations

from typing import Any

Target = tuple[str, str, dict[str, str]]  # (method, path, {parameter: runtime expression})

BODY = "$response.body#/"
VERSION = "/systems/{name}/versions/{version}"
EVAL = "/systems/{system}/versions/{version}"
MONITOR = "/monitoring/systems/{system}/versions/{version}"
LICENSE = "/licenses/{license_id}"


def _system(name: str) -> dict[str, str]:
    return {"name": name}


def _version_of_body(system_param: str) -> dict[str, str]:
    return {system_param: BODY + "system", "version": BODY + "version"}


def _version_of_request(system_param: str) -> dict[str, str]:
    return {system_param: "$request.path.system", "version": "$request.path.version"}


def _from_version(params: Any) -> dict[str, Target]:
    """What a model version leads to, `params(system parameter name)` giving the parameter expressions."""
    return {
        "GetModelVersion": ("get", VERSION, params("name")),
        "UpdateModelVersion": ("patch", VERSION, params("name")),
        "GetLineage": ("get", VERSION + "/lineage", params("name")),
        "SubmitEvaluation": ("post", EVAL + "/evaluations", params("system")),
        "ListEvaluations": ("get", EVAL + "/evaluations", params("system")),
        "Reassess": ("post", EVAL + "/assessments", params("system")),
        "ListAssessments": ("get", EVAL + "/assessments", params("system")),
        "SetReference": ("put", MONITOR + "/reference", params("system")),
        "MonitoringStatus": ("get", MONITOR + "/status", params("system")),
        "RetireModelVersion": ("post", VERSION + "/retire", params("name")),
    }


def _from_license(expr: str) -> dict[str, Target]:
    p = {"license_id": expr}
    return {
        "GetLicense": ("get", LICENSE, p),
        "GetLicenseStatus": ("get", LICENSE + "/status", p),
        "ListSignOffs": ("get", LICENSE + "/signoffs", p),
        "SignOff": ("post", LICENSE + "/signoffs", p),
        "ActivateLicense": ("post", LICENSE + "/activate", p),
        "GetLicenseToken": ("get", LICENSE + "/token", p),
        "RenewLicense": ("post", LICENSE + "/renew", p),
        "SuspendLicense": ("post", LICENSE + "/suspend", p),
        "ReinstateLicense": ("post", LICENSE + "/reinstate", p),
        "RevokeLicense": ("post", LICENSE + "/revoke", p),
    }


def _from_monitored(what: str) -> dict[str, Target]:
    p = _version_of_request("system")
    return {
        "GetReference": ("get", MONITOR + "/reference", p),
        "ListWindows": ("get", MONITOR + "/windows", p),
        "MonitoringStatus": ("get", MONITOR + "/status", p),
        "MetricSeries": ("get", MONITOR + "/metrics", p),
        "ChartSeries": ("get", MONITOR + "/series", p),
        "ListBreaches": ("get", MONITOR + "/breaches", p),
    } | ({"SubmitWindow": ("post", MONITOR + "/windows", p)} if what == "reference" else {})


def _assessment(expr: str) -> dict[str, Target]:
    p = {"assessment_id": expr}
    return {
        "GetAssessment": ("get", "/assessments/{assessment_id}", p),
        "GetAssessmentReport": ("get", "/assessments/{assessment_id}/report.html", p),
    }


def _named(path: str, *targets: tuple[str, str, str]) -> dict[str, Target]:
    return {
        link: (method, path + suffix, {path.rsplit("{", 1)[1].rstrip("}"): BODY + "name"})
        for link, method, suffix in targets
    }


# (method, path) of a create operation -> its links, on its success status.
LINKS: dict[tuple[str, str], dict[str, Target]] = {
    ("post", "/systems"): {
        "GetSystem": ("get", "/systems/{name}", _system(BODY + "name")),
        "UpdateSystem": ("patch", "/systems/{name}", _system(BODY + "name")),
        "ClassifySystem": ("post", "/systems/{name}/classify", _system(BODY + "name")),
        "RegisterModelVersion": ("post", "/systems/{name}/versions", _system(BODY + "name")),
        "ListModelVersions": ("get", "/systems/{name}/versions", _system(BODY + "name")),
        "GetSystemReport": ("get", "/reports/systems/{name}", _system(BODY + "name")),
    },
    ("post", "/systems/{name}/versions"): _from_version(_version_of_body),
    ("post", "/datasets"): {"GetDataset": ("get", "/datasets/{ref}", {"ref": BODY + "ref"})},
    ("post", "/licenses"): _from_license(BODY + "id"),
    ("post", LICENSE + "/renew"): _from_license(BODY + "id"),
    ("post", "/deployments"): _named(
        "/deployments/{name}",
        ("GetDeployment", "get", ""),
        ("RecordDecision", "post", "/decisions"),
        ("GetCaptureTarget", "get", "/capture"),
        ("SubmitCapture", "post", "/capture"),
        ("RemoveDeployment", "delete", ""),
    ),
    ("post", "/users"): _named("/users/{name}", ("DisableUser", "post", "/disable"), ("EnableUser", "post", "/enable")),
    ("post", "/apps"): _named("/apps/{name}", ("DisableApp", "post", "/disable"), ("EnableApp", "post", "/enable")),
    ("post", "/keys"): {"RevokeKey": ("delete", "/keys/{key_id}", {"key_id": BODY + "id"})},
    ("post", "/policies"): {
        "GetPolicy": ("get", "/policies/{ref}", {"ref": BODY + "digest"}),
        "DeactivatePolicy": ("post", "/policies/{name}/deactivate", {"name": BODY + "name"}),
    },
    ("post", EVAL + "/evaluations"): _assessment(BODY + "assessment/id"),
    ("post", EVAL + "/assessments"): _assessment(BODY + "id"),
    ("put", MONITOR + "/reference"): _from_monitored("reference"),
    ("post", MONITOR + "/windows"): _from_monitored("window"),
}


def add_links(doc: dict[str, Any]) -> None:
    """Write `LINKS` into the OpenAPI document (in place); a link to an unknown operation or parameter is a bug."""
    paths: dict[str, Any] = doc["paths"]
    for (method, path), links in LINKS.items():
        source = paths[path][method]
        status = next(code for code in source["responses"] if code.startswith("2"))
        out: dict[str, Any] = {}
        for name, (t_method, t_path, params) in links.items():
            target = paths[t_path][t_method]
            declared = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
            if declared != set(params):
                raise ValueError(f"link {name}: {t_method} {t_path} takes {sorted(declared)}, not {sorted(params)}")
            out[name] = {"operationId": target["operationId"], "parameters": dict(params)}
        source["responses"][status]["links"] = out
