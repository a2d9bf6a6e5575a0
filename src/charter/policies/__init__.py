"""Policy as code: YAML policies with CEL rules mapped to control catalogs, evaluated on evidence documents."""

from charter.policies.catalogs import Control, ControlCatalog, Framework, builtin_catalog
from charter.policies.coverage import CoverageReport, coverage
from charter.policies.document import PolicyDocument, Rule, Severity, policy_set_digest
from charter.policies.engine import Assessment, RuleResult, Verdict, evaluate
from charter.policies.errors import Location, NotLicensable, PolicyError, Problem
from charter.policies.evidence import DECLARED_PATHS, DEFAULT_THRESHOLDS, fill_defaults
from charter.policies.fixtures import FixtureReport, run_policy_tests
from charter.policies.licensing import LicensingPolicy, builtin_licensing, load_licensing
from charter.policies.loader import builtin_baselines, load_policies, load_policy, load_policy_dir, load_policy_file
from charter.policies.render import FORMATS, render

__all__ = [
    "DECLARED_PATHS",
    "DEFAULT_THRESHOLDS",
    "FORMATS",
    "Assessment",
    "Control",
    "ControlCatalog",
    "CoverageReport",
    "FixtureReport",
    "Framework",
    "LicensingPolicy",
    "Location",
    "NotLicensable",
    "PolicyDocument",
    "PolicyError",
    "Problem",
    "Rule",
    "RuleResult",
    "Severity",
    "Verdict",
    "builtin_baselines",
    "builtin_catalog",
    "builtin_licensing",
    "coverage",
    "evaluate",
    "fill_defaults",
    "load_licensing",
    "load_policies",
    "load_policy",
    "load_policy_dir",
    "load_policy_file",
    "policy_set_digest",
    "render",
    "run_policy_tests",
]
