"""MLflow Model Registry bridge (optional extra `charter[mlflow]`): read registered model versions, fetch their
artifacts locally, and describe them as Charter model versions. The MLflow client is imported only when used."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.catalog import yamlfile
from charter.catalog.card import parse_card
from charter.core.errors import CharterError, ErrorCode, ErrorKind, InvalidInput, NotFound

_SLUG = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class RegistryVersion:
    """One version of a registered model in MLflow."""

    name: str
    version: str
    source: str
    run_id: str | None
    stage: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    model_description: str | None = None

    @property
    def models_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _client(tracking_uri: str) -> tuple[Any, Any]:
    try:
        import mlflow
        from mlflow import MlflowClient
    except ImportError:
        raise CharterError(
            "the MLflow bridge needs the mlflow client: pip install 'charter[mlflow]'",
            code=ErrorCode.MLFLOW_NOT_INSTALLED,
            kind=ErrorKind.UNAVAILABLE,
        ) from None
    return mlflow, MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def system_name_for(model_name: str) -> str:
    """A Charter system name for an MLflow registered model name ('Credit Scoring' → 'credit-scoring')."""
    slug = _SLUG.sub("-", model_name.lower()).strip("-._")[:63]
    if not slug:
        raise InvalidInput(f"model: cannot derive a system name from '{model_name}'; pass --system", field="model")
    return slug


def registry_versions(tracking_uri: str, names: Iterable[str] = ()) -> list[RegistryVersion]:
    """Every version of the given registered models (all models when `names` is empty), oldest first."""
    _, client = _client(tracking_uri)
    wanted = list(names)
    try:
        models = [client.get_registered_model(n) for n in wanted] if wanted else list(client.search_registered_models())
    except Exception as exc:  # the client raises its own exception types for unknown models / unreachable servers
        raise NotFound(f"MLflow registry at {tracking_uri}: {exc}", code=ErrorCode.MLFLOW_REGISTRY_ERROR) from None
    out: list[RegistryVersion] = []
    for model in models:
        by_version: dict[str, list[str]] = {}
        for alias, version in (getattr(model, "aliases", None) or {}).items():
            by_version.setdefault(str(version), []).append(str(alias))
        escaped = model.name.replace("'", "\\'")
        for model_version in client.search_model_versions(f"name='{escaped}'"):
            out.append(
                RegistryVersion(
                    name=str(model_version.name),
                    version=str(model_version.version),
                    source=str(model_version.source),
                    run_id=model_version.run_id or None,
                    stage=model_version.current_stage
                    if model_version.current_stage not in (None, "", "None")
                    else None,
                    aliases=tuple(sorted(by_version.get(str(model_version.version), []))),
                    tags={str(k): str(v) for k, v in (model_version.tags or {}).items()},
                    description=model_version.description or None,
                    model_description=model.description or None,
                )
            )
    return sorted(out, key=lambda v: (v.name, int(v.version) if v.version.isdigit() else 0, v.version))


def fetch(tracking_uri: str, version: RegistryVersion, dest: Path) -> Path:
    """A local directory (or file) holding the version's artifacts; local stores are read in place."""
    mlflow, _ = _client(tracking_uri)
    try:
        mlflow.set_registry_uri(tracking_uri)  # a `models:/` source resolves against this registry, not a default
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=version.source, tracking_uri=tracking_uri, dst_path=str(dest)
        )
    except Exception as exc:
        raise NotFound(
            f"cannot fetch artifacts of {version.models_uri} from {tracking_uri}: {exc}",
            code=ErrorCode.MLFLOW_ARTIFACT_ERROR,
        ) from None
    return Path(path)


def _mlmodel(root: Path) -> dict[str, Any]:
    path = root / "MLmodel" if root.is_dir() else root.with_name("MLmodel")
    if not path.is_file():
        return {}
    doc = yamlfile.load(path.read_text(encoding="utf-8"), str(path), field_name="MLmodel").value
    return doc if isinstance(doc, dict) else {}


def framework_of(root: Path) -> str | None:
    """The model's own flavor from its MLmodel file (e.g. 'sklearn'); 'mlflow' when only pyfunc is declared."""
    flavors = _mlmodel(root).get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        return None
    own = [str(f) for f in flavors if f != "python_function"]
    return own[0] if own else "mlflow"


def card_for(version: RegistryVersion, root: Path) -> dict[str, Any]:
    """Model card: a README.md shipped with the artifacts (HF style) plus the MLflow registry facts."""
    readme = root / "README.md" if root.is_dir() else None
    card: dict[str, Any] = {}
    if readme is not None and readme.is_file():
        card = parse_card(readme.read_text(encoding="utf-8"), str(readme))
    description = version.description or version.model_description
    if description and "description" not in card:
        card["description"] = description
    mlmodel = _mlmodel(root)
    card["mlflow"] = {
        "name": version.name,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id,
        "stage": version.stage,
        "aliases": list(version.aliases),
        "tags": dict(version.tags),
        "flavors": sorted(mlmodel.get("flavors", {}) or {}),
        "signature": mlmodel.get("signature"),
    }
    return card
