"""What the demo is made of: people, apps, systems, cards and datasets (static data, no behaviour)."""

from __future__ import annotations

from typing import Any

from charter.catalog.questionnaire import NO_PROHIBITED

TEAMS = ("lending", "customer-care", "back-office")

# (name, display name, team, roles as (role, function)); each gets a dashboard password and an API key.
PEOPLE: tuple[tuple[str, str, str | None, tuple[tuple[str, str | None], ...]], ...] = (
    ("ada", "Ada Admin (platform owner)", None, (("admin", None),)),
    ("mara", "Mara ML engineer", "lending", (("ml-engineer", None),)),
    ("sam", "Sam senior engineer (operations)", "lending", (("senior-engineer", None),)),
    ("lena", "Lena ML lead", None, (("reviewer", "ml-lead"),)),
    ("sekou", "Sekou security officer", None, (("reviewer", "security"),)),
    ("louise", "Louise legal counsel", None, (("reviewer", "legal"),)),
    ("eti", "Eti ethics board", None, (("reviewer", "ethics"),)),
    ("priya", "Priya data protection officer", None, (("reviewer", "privacy"),)),
    ("audrey", "Audrey internal auditor", None, (("auditor", None),)),
)

APPS = (("loan-portal", "lending"), ("support-widget", "customer-care"), ("doc-router", "back-office"))

# Deployments served by the toy model servers of `charter.demo.models`, each under its own path prefix.
CREDIT_DEPLOYMENT = "credit-scoring"
CHAT_DEPLOYMENT = "support-chatbot"


def model_upstream(base_url: str, deployment: str) -> str:
    """The upstream URL a demo deployment is registered with (the gateway appends the caller's path)."""
    return f"{base_url.rstrip('/')}/{deployment}/v1"


# The credit-scoring system's obligation documents (Annex III 5(b), provider and deployer): what a FRIA (Art. 27(1)
# (a)-(f)) and a post-market monitoring plan (Art. 72) say, for the licensed model version.
DOCUMENTS: dict[str, dict[str, str]] = {
    "fria": {
        "process": "Loan officers use the score to decide consumer credit applications on the loan portal.",
        "period_and_frequency": "Every consumer application, weekdays, for the licence period (180 days).",
        "affected_persons": "Consumers applying for credit; groups by gender and age band are monitored.",
        "risks_of_harm": "Wrongful refusal of credit; indirect discrimination by gender or age.",
        "human_oversight": "An officer reviews every refusal and can override the score.",
        "measures": "Appeal channel on the portal; monthly fairness review; the licence suspends on parity breach.",
    },
    "post_market_plan": {
        "data_collection": "The gateway captures scored requests; outcomes join from core banking hourly.",
        "evaluation": "Drift and demographic parity per window against the licence conditions (Art. 9-15).",
        "responsibilities": "The ML lead reviews monitoring results monthly; legal on any suspension.",
        "corrective_actions": "Suspend via licence conditions; retrain and re-license (Art. 20).",
    },
}
PLAN_METRICS = ["drift.psi_max", "fairness.dp_diff"]

CREDIT_ANSWERS: dict[str, Any] = {
    "prohibited": NO_PROHIBITED,
    "annex_iii": {"point": "5(b)"},
    "context": {"decisions_about_persons": True, "deployment_context": ["consumer"]},
    "data": {"personal_data": True},
}
CHATBOT_ANSWERS: dict[str, Any] = {
    "prohibited": NO_PROHIBITED,
    "transparency": {"interacts_with_natural_persons": True, "generates_synthetic_content": True},
    "context": {"deployment_context": ["consumer"]},
}
CLASSIFIER_ANSWERS: dict[str, Any] = {"prohibited": NO_PROHIBITED, "context": {"deployment_context": ["internal"]}}

SYSTEMS: tuple[dict[str, Any], ...] = (
    {
        "name": "credit-scoring",
        "purpose": "Assess the creditworthiness of consumer loan applicants for a human underwriter.",
        "team": "lending",
        "deployer": "Demo Bank plc",
        "human_oversight": "A credit officer reviews every refusal and can override it.",
        "dpia_reference": "DPIA-2026-014",
        "log_retention_days": 365,
        "access_restricted": True,
        "answers": CREDIT_ANSWERS,
    },
    {
        "name": "support-chatbot",
        "purpose": "Answer customer questions about accounts and cards in the web chat; hands over to a human.",
        "team": "customer-care",
        "deployer": "Demo Bank plc",
        "human_oversight": "Conversations escalate to an agent on request or low confidence.",
        "log_retention_days": 180,
        "access_restricted": True,
        "answers": CHATBOT_ANSWERS,
    },
    {
        "name": "doc-classifier",
        "purpose": "Route scanned internal documents (invoices, contracts, letters) to the right back-office queue.",
        "team": "back-office",
        "deployer": "Demo Bank plc",
        "log_retention_days": 90,
        "access_restricted": True,
        "answers": CLASSIFIER_ANSWERS,
    },
)


def card(
    name: str, version: str, *, purpose: str, architecture: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A model card carrying the Annex IV documentation fields."""
    doc: dict[str, Any] = {
        "model_name": name,
        "intended_purpose": purpose,
        "intended_users": "Staff of Demo Bank plc.",
        "limitations": "Synthetic demo model: never use it for real decisions.",
        "training_data": "See the lineage in Charter.",
        "evaluation_data": "Held-out draw of the same population.",
        "metrics": "Accuracy, F1, ROC AUC, and group fairness where people are affected.",
        "human_oversight": "A person reviews every adverse outcome.",
        "risk_management": "Risk register RR-12, reviewed quarterly.",
        "cybersecurity": "safetensors artifact (no executable content), served only through the gateway.",
        "accuracy_robustness": "Bootstrap confidence intervals on the held-out set.",
        "logging": "Every decision is logged in the Charter audit log.",
        "contact": "ml-platform@demo-bank.example",
        "version": version,
        "license": "Apache-2.0",
        "out_of_scope_uses": "Employment screening; any use outside the intended purpose.",
        "harmonised_standards": "ISO/IEC 42001:2023 (AIMS).",
        "architecture": architecture,
    }
    doc.update(extra or {})
    return doc


# (name, file stem, license, lawful basis, personal data, derived from, source); "" license = provenance gap.
DATASETS: tuple[tuple[str, str | None, str | None, bool, tuple[str, ...], str], ...] = (
    ("loan-applications-raw", "CC-BY-4.0", "contract", True, (), "core banking export 2019-2024"),
    ("loan-applications-clean", "CC-BY-4.0", "contract", True, ("loan-applications-raw",), "deduplicated, imputed"),
    ("loan-train", "CC-BY-4.0", "contract", True, ("loan-applications-clean",), "80% split of the cleaned data"),
    ("loan-validation", "CC-BY-4.0", "contract", True, ("loan-applications-clean",), "20% split, held out"),
    ("support-transcripts", "CC-BY-SA-4.0", "legitimate-interests", True, (), "pseudonymised chat transcripts"),
    ("faq-articles", "CC0-1.0", None, False, (), "public help-centre articles"),
    ("scanned-docs", None, None, False, (), "scanner share (licence unknown: provenance gap)"),
)
