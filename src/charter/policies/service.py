"""Policy use cases: store versions by digest, list, show, rule-level diff, the active set, coverage.

The active set is the built-in baselines plus every active stored policy; a stored policy with a baseline's name
replaces that baseline. Every state change is audited in the same transaction and committed once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from typing import Any

from sqlalchemy.exc import IntegrityError

from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission, Resource
from charter.core.clock import utcnow
from charter.core.errors import Conflict, ErrorCode, InvalidInput, NotFound
from charter.core.events import AuditEvent
from charter.core.ids import new_id
from charter.policies import repository
from charter.policies.catalogs import builtin_catalog
from charter.policies.coverage import coverage
from charter.policies.document import PolicyDocument, Rule
from charter.policies.loader import builtin_baselines, check_policy_set, load_policy
from charter.policies.schemas import (
    FieldChange,
    PolicyAdded,
    PolicyDetail,
    PolicyDiff,
    PolicyRead,
    PolicyRef,
    RuleChange,
    RuleRead,
)
from charter.policies.tables import PolicyRow
from charter.storage.uow import UnitOfWork

POLICIES = Resource(kind="policies")
_CACHE_SIZE = 256
_cache: OrderedDict[str, PolicyDocument] = OrderedDict()
_lock = threading.Lock()


def _resource(name: str) -> Resource:
    return Resource(kind="policy", name=name)


def _document(row: PolicyRow) -> PolicyDocument:
    """The compiled policy of a stored row (parsed once per process, cached by digest)."""
    with _lock:
        hit = _cache.get(row.digest)
        if hit is not None:
            _cache.move_to_end(row.digest)
            return hit
    doc = load_policy(row.source, source=row.filename)
    with _lock:
        _cache[row.digest] = doc
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return doc


def _builtin_read(doc: PolicyDocument, active: bool) -> PolicyRead:
    return PolicyRead(
        id=f"builtin:{doc.name}",
        name=doc.name,
        digest=doc.digest,
        description=doc.description,
        rules=len(doc.rules),
        origin="builtin",
        active=active,
        filename=doc.source,
    )


def _read(row: PolicyRow) -> PolicyRead:
    return PolicyRead(
        id=row.id,
        name=row.name,
        digest=row.digest,
        description=row.description,
        rules=row.rule_count,
        origin="stored",
        active=row.active,
        filename=row.filename,
        created_by=row.created_by,
        created_at=row.created_at,
        superseded_at=row.superseded_at,
    )


def rule_read(rule: Rule) -> RuleRead:
    """A rule as written (expressions as source text)."""
    return RuleRead.model_validate(rule.to_dict())


def active_policies(uow: UnitOfWork, actor: Actor | None = None) -> list[PolicyDocument]:
    """The policies every assessment uses: built-in baselines (unless replaced by name) and active stored ones."""
    del actor  # reading the set is part of the caller's use case, which authorizes
    stored = [_document(row) for row in repository.active_rows(uow.session)]
    names = {d.name for d in stored}
    return sorted([*(b for b in builtin_baselines() if b.name not in names), *stored], key=lambda d: d.name)


def add_policy(uow: UnitOfWork, actor: Actor, *, source: str, filename: str = "policy.yaml") -> PolicyAdded:
    """Validate and store a policy version; identical content is a no-op; a new version of a name supersedes it."""
    doc = load_policy(source, source=filename)
    authorize(actor, Permission.POLICY_WRITE, _resource(doc.name))
    session = uow.session
    current = repository.active_by_name(session, doc.name, lock=True)
    if current is not None and current.digest == doc.digest:
        return PolicyAdded(**_read(current).model_dump(), status="unchanged")
    others = [d for d in active_policies(uow) if d.name != doc.name]
    check_policy_set([*others, doc])
    now = utcnow()
    superseded = current.digest if current is not None else _builtin_digest(doc.name)
    if current is not None:
        current.active = False
        current.superseded_at = now
        session.flush()
    existing = repository.by_digest(session, doc.digest)
    if existing is not None:
        existing.active, existing.superseded_at, existing.activated_at = True, None, now
        row, status, action = existing, "reactivated", "policy.activate"
    else:
        row = PolicyRow(
            id=new_id("pol"),
            name=doc.name,
            digest=doc.digest,
            description=doc.description,
            document=doc.to_dict(),
            source=source,
            filename=filename,
            rule_count=len(doc.rules),
            active=True,
            created_by=actor.ref,
            created_at=now,
            activated_at=now,
        )
        session.add(row)
        status, action = "created", "policy.add"
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            f"policy '{doc.name}' was changed concurrently; run the command again", code=ErrorCode.POLICY_CONFLICT
        ) from None
    details = {"digest": doc.digest, "rules": [r.id for r in doc.rules], "superseded": superseded, "id": row.id}
    uow.record(AuditEvent(actor.ref, action, f"policy:{doc.name}", details=details))
    uow.commit()
    return PolicyAdded(**_read(row).model_dump(), status=status, superseded=superseded)


def deactivate_policy(uow: UnitOfWork, actor: Actor, name: str, reason: str) -> PolicyRead:
    """Take a stored policy out of the active set (assessments from now on no longer use it).

    A stored policy that replaced a built-in baseline of the same name gives way to that baseline again. Built-in
    baselines themselves cannot be deactivated: they are the floor every assessment is held to; replace one by
    adding a policy with its name. `policy add` of the same file activates the version again.
    """
    authorize(actor, Permission.POLICY_WRITE, _resource(name))
    row = repository.active_by_name(uow.session, name, lock=True)
    if row is None:
        if _builtin_digest(name) is not None:
            raise Conflict(
                f"'{name}' is a built-in baseline and cannot be deactivated; to change it, add a policy named "
                f"'{name}' (charter policy add FILE)",
                code=ErrorCode.BUILTIN_POLICY,
            )
        raise NotFound(f"no active policy named '{name}' (see: charter policy list)", code=ErrorCode.POLICY_NOT_FOUND)
    row.active = False
    row.superseded_at = utcnow()
    restored = _builtin_digest(name)
    details = {"digest": row.digest, "id": row.id, "reason": reason, "baseline_restored": restored}
    uow.record(AuditEvent(actor.ref, "policy.deactivate", f"policy:{name}", details=details))
    out = _read(row)
    uow.commit()
    return out


def _builtin_digest(name: str) -> str | None:
    return next((b.digest for b in builtin_baselines() if b.name == name), None)


def list_policies(uow: UnitOfWork, actor: Actor, *, all_versions: bool = False) -> list[PolicyRead]:
    """Built-in baselines and stored policies (active ones, or every version with `all_versions`)."""
    authorize(actor, Permission.POLICY_READ, POLICIES)
    rows = repository.all_rows(uow.session) if all_versions else repository.active_rows(uow.session)
    replaced = {r.name for r in rows if r.active}
    out = [
        _builtin_read(b, b.name not in replaced) for b in builtin_baselines() if all_versions or b.name not in replaced
    ]
    out += [_read(r) for r in rows]
    return sorted(out, key=lambda p: (p.name, p.origin != "builtin", p.created_at or utcnow()))


def _resolve(uow: UnitOfWork, ref: str) -> tuple[PolicyRead, PolicyDocument]:
    """NAME (its active version, else the newest) or a digest (at least 7 hex characters)."""
    session = uow.session
    row = repository.active_by_name(session, ref)
    if row is not None:
        return _read(row), _document(row)
    builtin = next((b for b in builtin_baselines() if b.name == ref), None)
    if builtin is not None:
        return _builtin_read(builtin, True), builtin
    versions = repository.versions_of(session, ref)
    if versions:
        return _read(versions[-1]), _document(versions[-1])
    prefix = repository.digest_prefix(ref)
    if prefix is not None:
        builtins = [b for b in builtin_baselines() if b.digest.startswith(prefix)]
        rows = repository.by_digest_prefix(session, prefix)
        found = len(builtins) + len({r.digest for r in rows} - {b.digest for b in builtins})
        if found > 1:
            raise InvalidInput(f"digest prefix '{prefix}' matches several policies; give more characters")
        if rows:
            return _read(rows[0]), _document(rows[0])
        if builtins:
            replaced = repository.active_by_name(session, builtins[0].name) is not None
            return _builtin_read(builtins[0], not replaced), builtins[0]
    raise NotFound(
        f"no policy named or with digest '{ref}'; list them with: charter policy list --all",
        code=ErrorCode.POLICY_NOT_FOUND,
    )


def show_policy(uow: UnitOfWork, actor: Actor, ref: str) -> PolicyDetail:
    """One policy version with its rules and YAML source."""
    authorize(actor, Permission.POLICY_READ, POLICIES)
    read, doc = _resolve(uow, ref)
    if read.origin == "stored":
        row = repository.by_digest(uow.session, read.digest)
        text = row.source if row is not None else ""
    else:
        text = _builtin_text(doc)
    return PolicyDetail(**read.model_dump(), rule_list=[rule_read(r) for r in doc.rules], source=text)


def _builtin_text(doc: PolicyDocument) -> str:
    ref = resources.files("charter.policies") / "builtin" / doc.source.removeprefix("builtin:")
    return ref.read_text(encoding="utf-8")


def _previous(uow: UnitOfWork, read: PolicyRead) -> tuple[PolicyRead, PolicyDocument]:
    """The version of the same name before `read` (a built-in baseline precedes stored versions of its name)."""
    chain: list[tuple[PolicyRead, PolicyDocument]] = []
    builtin = next((b for b in builtin_baselines() if b.name == read.name), None)
    if builtin is not None:
        chain.append((_builtin_read(builtin, False), builtin))
    chain += [(_read(r), _document(r)) for r in repository.versions_of(uow.session, read.name)]
    index = next((i for i, (r, _) in enumerate(chain) if r.digest == read.digest), None)
    if not index:
        raise NotFound(
            f"policy '{read.name}' has no version before {read.digest[:12]}; give two versions: "
            "charter policy diff DIGEST_A DIGEST_B",
            code=ErrorCode.NO_PREVIOUS_VERSION,
        )
    return chain[index - 1]


def diff_policies(uow: UnitOfWork, actor: Actor, ref: str, other: str | None = None) -> PolicyDiff:
    """Rule-level diff: `ref` against its previous version, or `ref` (old) against `other` (new)."""
    authorize(actor, Permission.POLICY_READ, POLICIES)
    if other is None:
        new_read, new_doc = _resolve(uow, ref)
        old_read, old_doc = _previous(uow, new_read)
    else:
        old_read, old_doc = _resolve(uow, ref)
        new_read, new_doc = _resolve(uow, other)
    return rule_diff(old_read, old_doc, new_read, new_doc)


def rule_diff(old_read: PolicyRead, old: PolicyDocument, new_read: PolicyRead, new: PolicyDocument) -> PolicyDiff:
    """Added, removed and changed rules (field by field) from `old` to `new`."""
    before = {r.id: r.to_dict() for r in old.rules}
    after = {r.id: r.to_dict() for r in new.rules}
    changed: list[RuleChange] = []
    unchanged: list[str] = []
    for rule_id, new_rule in after.items():
        old_rule = before.get(rule_id)
        if old_rule is None:
            continue
        changes = _changes(old_rule, new_rule)
        if changes:
            changed.append(RuleChange(id=rule_id, changes=changes))
        else:
            unchanged.append(rule_id)
    meta_old = {"name": old.name, "description": old.description}
    meta_new = {"name": new.name, "description": new.description}
    return PolicyDiff.model_validate(
        {
            "from": PolicyRef(name=old.name, digest=old.digest, origin=old_read.origin),
            "to": PolicyRef(name=new.name, digest=new.digest, origin=new_read.origin),
            "metadata": _changes(meta_old, meta_new),
            "added": [RuleRead.model_validate(r) for i, r in after.items() if i not in before],
            "removed": [RuleRead.model_validate(r) for i, r in before.items() if i not in after],
            "changed": changed,
            "unchanged": unchanged,
        }
    )


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, FieldChange]:
    keys = list(dict.fromkeys([*old, *new]))
    return {k: FieldChange(before=old.get(k), after=new.get(k)) for k in keys if old.get(k) != new.get(k)}


def coverage_report(
    uow: UnitOfWork, actor: Actor, *, framework: str | None = None, risk_tier: str | None = None
) -> dict[str, Any]:
    """Coverage of one framework (or a summary of every framework) by the active policy set."""
    authorize(actor, Permission.POLICY_READ, POLICIES)
    catalog = builtin_catalog()
    if risk_tier is not None and risk_tier not in catalog.risk_tiers:
        raise InvalidInput(
            f"risk_tier: '{risk_tier[:40]}' is not one of {', '.join(catalog.risk_tiers)}", field="risk_tier"
        )
    policies = active_policies(uow)
    summary = {"policies": [{"name": p.name, "digest": p.digest} for p in policies], "risk_tier": risk_tier}
    if framework is not None:
        return {**summary, **coverage(policies, framework, catalog=catalog, risk_tier=risk_tier).to_dict()}
    items = []
    for fw in catalog.frameworks:
        report = coverage(policies, fw.id, catalog=catalog, risk_tier=risk_tier)
        items.append(
            {
                "framework": fw.id,
                "title": fw.title,
                "total": report.total,
                "covered_count": len(report.covered),
                "ratio": round(report.ratio, 4),
            }
        )
    return {**summary, "items": items}


def policy_documents(uow: UnitOfWork, digests: Sequence[str]) -> dict[str, PolicyDocument]:
    """Compiled policies by digest (built-in or stored, active or not); unknown digests are left out."""
    out = {b.digest: b for b in builtin_baselines() if b.digest in digests}
    for digest in digests:
        if digest not in out:
            row = repository.by_digest(uow.session, digest)
            if row is not None:
                out[digest] = _document(row)
    return out
