"""Load and validate policy YAML: every problem is reported with file:line:column and a fix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from charter.policies import cel, evidence
from charter.policies._yaml import Checker, YNode, did_you_mean, expression_location, parse_yaml
from charter.policies.catalogs import ControlCatalog, builtin_catalog
from charter.policies.document import API_VERSION, KIND, PolicyDocument, Rule, Severity, document_digest
from charter.policies.errors import Location, PolicyError, Problem

NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")
RULE_ID = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,127}")
TOP_FIELDS = ("apiVersion", "kind", "metadata", "rules")
METADATA_FIELDS = ("name", "description")
RULE_FIELDS = ("id", "title", "severity", "when", "check", "controls", "remediation", "evidence")
RULE_REQUIRED = ("id", "title", "severity", "check", "controls", "remediation")
SEVERITIES = tuple(s.value for s in Severity)
TEST_SUFFIX = "_test.yaml"
BASELINES = ("ethical", "security", "regulatory", "evidence", "genai")


def load_policy(
    text: str | bytes, *, source: str = "<string>", catalog: ControlCatalog | None = None
) -> PolicyDocument:
    """Parse and validate one policy document; PolicyError lists every located problem."""
    root = parse_yaml(text, source)
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    return _Builder(source, text, catalog or builtin_catalog()).build(root)


def load_policy_file(path: Path, *, catalog: ControlCatalog | None = None) -> PolicyDocument:
    """Load one policy file."""
    return load_policy(path.read_bytes(), source=str(path), catalog=catalog)


def policy_files(directory: Path) -> list[Path]:
    """Policy files of a directory: `*.yaml` / `*.yml`, without `*_test.yaml` fixtures, sorted."""
    files = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    return sorted(p for p in files if not p.name.endswith(TEST_SUFFIX) and not p.name.endswith("_test.yml"))


def load_policy_dir(directory: Path, *, catalog: ControlCatalog | None = None) -> list[PolicyDocument]:
    """Load every policy file of a directory as one set (problems of all files are reported together)."""
    docs: list[PolicyDocument] = []
    problems: list[Problem] = []
    for path in policy_files(directory):
        try:
            docs.append(load_policy_file(path, catalog=catalog))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    check_policy_set(docs)
    return docs


def check_policy_set(policies: Sequence[PolicyDocument]) -> None:
    """Reject a set in which two policies share a name or a rule id (results must be unambiguous)."""
    problems: list[Problem] = []
    names: dict[str, PolicyDocument] = {}
    rule_ids: dict[str, tuple[PolicyDocument, Rule]] = {}
    for doc in policies:
        first_doc = names.get(doc.name)
        if first_doc is not None and first_doc.digest != doc.digest:
            msg = f"policy name '{doc.name}' is also used by {first_doc.source}"
            problems.append(Problem(Location(doc.source, 1, 1), msg))
            continue
        if first_doc is not None:
            continue
        names[doc.name] = doc
        for rule in doc.rules:
            seen = rule_ids.get(rule.id)
            if seen is not None:
                where = seen[1].location or Location(seen[0].source, 1, 1)
                msg = f"rule id '{rule.id}' is already used by policy '{seen[0].name}' ({where})"
                problems.append(Problem(rule.location or Location(doc.source, 1, 1), msg))
            else:
                rule_ids[rule.id] = (doc, rule)
    if problems:
        raise PolicyError(problems)


@lru_cache(maxsize=1)
def builtin_baselines() -> tuple[PolicyDocument, ...]:
    """The shipped baselines: ethical, security, regulatory, evidence, genai."""
    folder = resources.files("charter.policies") / "builtin" / "baselines"
    docs = []
    for name in BASELINES:
        ref = folder / f"{name}.yaml"
        docs.append(load_policy(ref.read_bytes(), source=f"builtin:baselines/{name}.yaml"))
    return tuple(docs)


class _Builder:
    def __init__(self, source: str, text: str, catalog: ControlCatalog) -> None:
        self.source = source
        self.text = text
        self.catalog = catalog
        self.check = Checker(source)

    def build(self, root: YNode) -> PolicyDocument:
        c = self.check
        top = c.mapping(root, "the policy document", TOP_FIELDS, TOP_FIELDS)
        if top is None:
            c.raise_if_any()
            raise AssertionError("unreachable")
        if "apiVersion" in top:
            version = c.string(top["apiVersion"], "apiVersion")
            if version is not None and version != API_VERSION:
                c.add(top["apiVersion"].loc, f"apiVersion must be '{API_VERSION}', got '{version}'")
        if "kind" in top:
            kind = c.string(top["kind"], "kind")
            if kind is not None and kind != KIND:
                hint = " (licensing documents are read with load_licensing)" if kind == "Licensing" else ""
                c.add(top["kind"].loc, f"kind must be '{KIND}', got '{kind}'{hint}")
        name, description = self.metadata(top.get("metadata"))
        rules = self.rules(top.get("rules"))
        c.raise_if_any()
        assert name is not None
        document = root.plain()
        return PolicyDocument(
            name=name,
            description=description,
            rules=tuple(rules),
            digest=document_digest(document),
            source=self.source,
            document=document,
        )

    def metadata(self, node: YNode | None) -> tuple[str | None, str]:
        if node is None:
            return None, ""
        meta = self.check.mapping(node, "metadata", METADATA_FIELDS, ("name",))
        if meta is None:
            return None, ""
        name = self.check.string(meta["name"], "metadata.name", pattern=NAME) if "name" in meta else None
        description = ""
        if "description" in meta:
            description = self.check.string(meta["description"], "metadata.description") or ""
        return name, description

    def rules(self, node: YNode | None) -> list[Rule]:
        if node is None:
            return []
        items = self.check.sequence(node, "rules")
        if items is None:
            return []
        if not items:
            self.check.add(node.loc, "rules must contain at least one rule")
        out: list[Rule] = []
        seen: dict[str, Location] = {}
        for i, item in enumerate(items):
            rule = self.rule(item, i)
            id_node = item.value.get("id") if item.kind == "map" else None
            rule_id = id_node.value if id_node is not None and isinstance(id_node.value, str) else None
            if rule_id is not None and rule_id in seen:
                self.check.add(item.loc, f"duplicate rule id '{rule_id}' (first at line {seen[rule_id].line})")
                continue
            if rule_id is not None:
                seen[rule_id] = item.loc
            if rule is not None:
                out.append(rule)
        return out

    def rule(self, node: YNode, index: int) -> Rule | None:
        c = self.check
        where = f"rules[{index}]"
        id_node = node.value.get("id") if node.kind == "map" else None
        if id_node is not None and isinstance(id_node.value, str) and RULE_ID.fullmatch(id_node.value):
            where = f"rule '{id_node.value}'"
        fields = c.mapping(node, where, RULE_FIELDS, RULE_REQUIRED)
        if fields is None:
            return None
        rule_id = c.string(fields["id"], f"{where}.id", pattern=RULE_ID) if "id" in fields else None
        title = c.string(fields["title"], f"{where}.title") if "title" in fields else None
        severity = c.choice(fields["severity"], f"{where}.severity", SEVERITIES) if "severity" in fields else None
        remediation = c.string(fields["remediation"], f"{where}.remediation") if "remediation" in fields else None
        check = self.expression(fields["check"], f"{where}.check") if "check" in fields else None
        when = self.expression(fields["when"], f"{where}.when") if "when" in fields else None
        controls = self.controls(fields["controls"], where) if "controls" in fields else ()
        declared = self.evidence(fields["evidence"], where) if "evidence" in fields else ()
        if None in (rule_id, title, severity, remediation, check) or ("when" in fields and when is None):
            return None
        if not controls:
            return None
        assert rule_id and title and severity and remediation and check
        return Rule(
            id=rule_id,
            title=title,
            severity=Severity(severity),
            check=check,
            when=when,
            controls=controls,
            remediation=remediation,
            evidence=declared,
            location=node.loc,
        )

    def expression(self, node: YNode, what: str) -> cel.Compiled | None:
        source = self.check.string(node, what)
        if source is None:
            return None
        compiled, problems = cel.check(source)
        for p in problems:
            self.check.add(expression_location(node, self.text, p.line, p.column), f"{what}: {p.message}")
        return compiled

    def controls(self, node: YNode, where: str) -> tuple[str, ...]:
        items = self.check.strings(node, f"{where}.controls")
        if node.kind == "seq" and not node.value:
            self.check.add(node.loc, f"{where}.controls must list at least one control id")
        out: list[str] = []
        for value, item in items:
            if self.catalog.find(value) is None:
                hint = self.catalog.suggest(value)
                extra = f" (did you mean '{hint}'?)" if hint else ""
                self.check.add(item.loc, f"{where}: unknown control id '{value}'{extra}")
            elif value in out:
                self.check.add(item.loc, f"{where}: control '{value}' is listed twice")
            else:
                out.append(value)
        return tuple(out) if len(out) == len(items) else ()

    def evidence(self, node: YNode, where: str) -> tuple[str, ...]:
        out: list[str] = []
        for value, item in self.check.strings(node, f"{where}.evidence"):
            reason = evidence.check_path(value)
            if reason is not None:
                self.check.add(item.loc, f"{where}: {reason}{did_you_mean(value, evidence.DECLARED_PATHS)}")
            elif value not in out:
                out.append(value)
        return tuple(out)


def load_policies(paths: Iterable[Path], *, catalog: ControlCatalog | None = None) -> list[PolicyDocument]:
    """Load several policy files (or directories) as one checked set."""
    docs: list[PolicyDocument] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            if path.is_dir():
                docs.extend(load_policy_dir(path, catalog=catalog))
            else:
                docs.append(load_policy_file(path, catalog=catalog))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    check_policy_set(docs)
    return docs
