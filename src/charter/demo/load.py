"""Load the demo world: the three systems' stories (models, evaluations, licenses, deployments, monitoring)."""

from __future__ import annotations

import time

from charter.bootstrap import Container
from charter.demo import content, data, monitoring
from charter.demo.loader import DemoResult, Loader, already_loaded, partly_loaded, summary, unless_exists
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.licenses import service as licenses
from charter.signoffs.model import Decision


def load(c: Container) -> DemoResult:
    """Load the whole demo once; when it is already there, change nothing and say so. A demo an interrupted run
    left half-loaded is completed: every step skips what is already there (see `Loader`)."""
    started = time.perf_counter()
    files = (c.settings.home / "demo").resolve()
    if already_loaded(c):
        return DemoResult(loaded=False, data_dir=files, summary=summary(c))
    resumed = partly_loaded(c)
    ld = Loader(c, files)
    ld.result.resumed = resumed
    ld.identity()
    ld.catalog()
    _credit(ld)
    _chatbot(ld)
    _classifier(ld)
    ld.result.seconds = round(time.perf_counter() - started, 2)
    return ld.result


def new_logins(c: Container) -> DemoResult:
    """New dashboard passwords and API keys for the demo's people and apps (the old keys keep working)."""
    files = (c.settings.home / "demo").resolve()
    if not partly_loaded(c):
        return DemoResult(loaded=False, data_dir=files)
    ld = Loader(c, files)
    ld.identity()
    ld.result.loaded = False
    return ld.result


def _credit(ld: Loader) -> None:
    biased, mitigated, thresholds = data.credit_predictions(ld.files / "evaluations" / "credit-scoring")
    coef = [1.5, -3.6, 0.55, -0.85]
    v1 = ld.model(
        "credit-scoring",
        "1.0.0",
        {"coef": coef, "intercept": [0.75]},
        content.card(
            "credit-scoring-logit",
            "1.0.0",
            purpose=content.SYSTEMS[0]["purpose"],
            architecture="Logistic regression, one threshold (0.5).",
        ),
    )
    v2 = ld.model(
        "credit-scoring",
        "2.0.0",
        {"coef": coef, "intercept": [0.75], "thresholds": [thresholds["F"], thresholds["M"]]},
        content.card(
            "credit-scoring-logit",
            "2.0.0",
            purpose=content.SYSTEMS[0]["purpose"],
            architecture="Logistic regression with per-gender thresholds (demographic parity post-processing).",
        ),
    )
    for ref in (v1, v2):
        ld.link(ref, "loan-train@1", "training")
        ld.link(ref, "loan-validation@1", "validation")
    ld.evaluate(v1, biased, score=True, sensitive=["gender", "age_band"])
    ld.evaluate(v2, mitigated, score=True, sensitive=["gender", "age_band"])
    ld.document(v2)  # FRIA and post-market plan: the mitigated model is the one licensed
    rejected = ld.request(v1, "production", "credit-decisioning", "app:loan-portal", 180, [])
    ld.sign(rejected, ["ml-lead"])
    ld.sign(rejected, ["ethics"], Decision.REJECT)
    ld.state("credit-scoring@1.0.0 production (biased, rejected by ethics)", rejected.id)
    active = ld.request(
        v2, "production", "credit-decisioning", "app:loan-portal", 180, ["fairness.dp_diff[gender] < 0.1 => suspend"]
    )
    ld.sign(active, active.required_signoffs)
    ld.state("credit-scoring@2.0.0 production (mitigated)", active.id)
    pending = ld.request(v2, "staging", "credit-decisioning", "app:loan-portal", 90, [])
    ld.sign(pending, ["ml-lead", "security"])
    ld.state("credit-scoring@2.0.0 staging (awaiting legal, ethics, privacy)", pending.id)
    _monitoring(ld, v2, thresholds)
    with ld.c.uow() as uow, unless_exists():
        deployments.add(
            uow,
            ld.people["sam"],
            DeploymentCreate(
                name="credit-scoring",
                model=v2,
                env="production",
                upstream=content.model_upstream(ld.c.settings.demo_models_url, content.CREDIT_DEPLOYMENT),
                kind="http",
            ),
            allow=ld.c.settings.upstream_allowlist,
        )


def _chatbot(ld: Loader) -> None:
    ref = ld.model(
        "support-chatbot",
        "1.0",
        {"embedding": [0.1 * i for i in range(16)]},
        content.card(
            "support-chatbot",
            "1.0",
            purpose=content.SYSTEMS[1]["purpose"],
            architecture="Retrieval-augmented small language model.",
        ),
    )
    ld.link(ref, "support-transcripts@1", "training")
    ld.link(ref, "faq-articles@1", "reference")
    preds = data.classifier_predictions(ld.files / "evaluations" / "support-chatbot" / "predictions.csv", 800, 0.86, 7)
    ld.evaluate(ref, preds, score=True, sensitive=[])
    lic = ld.request(ref, "production", "customer-support", "app:support-widget", 365, [])
    ld.sign(lic, lic.required_signoffs)
    if ld.current(lic.id).state == "active":  # else an interrupted run suspended it already
        with ld.c.uow() as uow:
            licenses.suspend(
                uow,
                ld.people["sam"],
                lic.id,
                "Prompt-injection incident INC-311 under investigation",
                {"incident": "INC-311"},
                category="security",
            )
    ld.state("support-chatbot@1.0 production (suspended: security incident)", lic.id)
    with ld.c.uow() as uow, unless_exists():
        deployments.add(
            uow,
            ld.people["sam"],
            DeploymentCreate(
                name="support-chatbot",
                model=ref,
                env="production",
                upstream=content.model_upstream(ld.c.settings.demo_models_url, content.CHAT_DEPLOYMENT),
            ),
            allow=ld.c.settings.upstream_allowlist,
        )


def _classifier(ld: Loader) -> None:
    refs = []
    for version, seed in (("0.9", 11), ("1.0", 12)):
        ref = ld.model(
            "doc-classifier",
            version,
            {"weights": [0.01 * (i + seed) for i in range(32)]},
            content.card(
                "doc-classifier",
                version,
                purpose=content.SYSTEMS[2]["purpose"],
                architecture="Bag-of-words linear classifier.",
            ),
        )
        ld.link(ref, "scanned-docs@1", "training")
        preds = data.classifier_predictions(
            ld.files / "evaluations" / "doc-classifier" / f"{version}.csv", 600, 0.9, seed
        )
        ld.evaluate(ref, preds, score=True, sensitive=[])
        refs.append(ref)
    old = ld.request(refs[0], "production", "document-routing", "app:doc-router", 365, [])
    ld.sign(old, old.required_signoffs)
    if ld.current(old.id).state == "active":  # else an interrupted run revoked it already
        with ld.c.uow() as uow:
            licenses.revoke(
                uow, ld.people["sam"], old.id, "Superseded by doc-classifier@1.0; training data licence unclear"
            )
    ld.state("doc-classifier@0.9 production (revoked)", old.id)
    new = ld.request(refs[1], "production", "document-routing", "app:doc-router", 365, [])
    ld.state("doc-classifier@1.0 production (awaiting ml-lead)", new.id)


def _monitoring(ld: Loader, ref: str, thresholds: dict[str, float]) -> None:
    """A second license on the mitigated model (pre-screening for a partner) whose drift condition the last
    monitoring window breaches: the monitoring service suspends it automatically."""
    if not monitoring.available():
        ld.result.notes.append("monitoring service not installed: no reference profile, windows or drift breach")
        return
    lic = ld.request(
        ref,
        "production",
        "partner-prescreening",
        "app:loan-portal",
        90,
        ["drift.psi_max < 0.25 => suspend", "fairness.dp_diff[gender] < 0.1 => suspend"],
    )
    ld.sign(lic, lic.required_signoffs)
    if ld.current(lic.id).state != "active":  # an interrupted run got as far as the breach
        ld.state(f"{ref} production partner pre-screening (suspended automatically: drift)", lic.id)
        return
    windows = monitoring.load(ld.c, ld.people["mara"], ref, ld.files / "monitoring" / "credit-scoring", thresholds)
    ld.result.notes.extend(windows)
    ld.state(f"{ref} production partner pre-screening (suspended automatically: drift)", lic.id)
