"""Static checks of a parsed CEL expression against the declared evidence fields and the supported functions."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.policies import _cel_ast as ast
from charter.policies._yaml import did_you_mean
from charter.policies.evidence import SCHEMA, Field, Kind

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
CHARTER_FUNCTIONS = frozenset({"hasText", "isDigest"})  # registered by charter.policies.cel.make_context
GLOBAL_FUNCTIONS = (
    frozenset({"has", "size", "int", "uint", "double", "string", "bytes", "timestamp", "duration", "dyn", "type"})
    | CHARTER_FUNCTIONS
)
METHOD_FUNCTIONS = (
    frozenset(
        {
            "size",
            "contains",
            "startsWith",
            "endsWith",
            "matches",
            "getFullYear",
            "getMonth",
            "getDate",
            "getDayOfMonth",
            "getDayOfWeek",
            "getDayOfYear",
            "getHours",
            "getMinutes",
            "getSeconds",
            "getMilliseconds",
            "hasValue",
            "value",
            "orValue",
            "or",
        }
    )
    | CHARTER_FUNCTIONS
)
OPTIONAL_FUNCTIONS = frozenset({"of", "none", "ofNonZeroValue"})
TYPE_NAMES = frozenset({"int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type"})
_ALL_FUNCTIONS = GLOBAL_FUNCTIONS | METHOD_FUNCTIONS | MACROS


@dataclass(frozen=True, slots=True)
class Finding:
    """A static problem at a character offset of the expression."""

    message: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Ref:
    spec: Field
    path: str  # as written, e.g. fairness.sex.dp_diff
    canon: str  # declared form, e.g. fairness.*.dp_diff


@dataclass(slots=True)
class Analysis:
    """Evidence paths an expression reads (declared form) and the problems found."""

    paths: set[str] = field(default_factory=set)
    problems: list[Finding] = field(default_factory=list)


def analyze(tree: ast.Expr, variables: frozenset[str] = frozenset()) -> Analysis:
    """Check identifiers, evidence fields and function names used by `tree`; `variables` are further top-level
    names (of any shape: what is selected from them is not checked), such as a tool condition's `args`."""
    out = Analysis()
    _Walker(out).visit(tree, dict.fromkeys(variables))
    return out


class _Walker:
    def __init__(self, out: Analysis) -> None:
        self.out = out

    def problem(self, node: ast.Expr, message: str) -> None:
        self.out.problems.append(Finding(message, node.pos))

    def visit(self, node: ast.Expr, scope: dict[str, _Ref | None]) -> _Ref | None:
        if isinstance(node, ast.Ident):
            return self.ident(node, scope)
        if isinstance(node, ast.Select):
            return self.select(node, self.visit(node.operand, scope))
        if isinstance(node, ast.Index):
            return self.index(node, scope)
        if isinstance(node, ast.Call):
            self.call(node, scope)
            return None
        for child in _children(node):
            self.visit(child, scope)
        return None

    def ident(self, node: ast.Ident, scope: dict[str, _Ref | None]) -> _Ref | None:
        if node.name in scope:
            return scope[node.name]
        spec = SCHEMA.fields.get(node.name)
        if spec is not None:
            self.out.paths.add(node.name)
            return _Ref(spec, node.name, node.name)
        if node.name not in TYPE_NAMES:
            options = [*SCHEMA.fields, *scope]
            self.problem(node, f"unknown identifier '{node.name}'{did_you_mean(node.name, options)}")
        return None

    def select(self, node: ast.Select, ref: _Ref | None) -> _Ref | None:
        if ref is None:
            return None
        spec, name = ref.spec, node.field
        child = spec.child(name)
        if child is None:
            if spec.kind == Kind.OBJECT:
                hint = did_you_mean(name, spec.fields)
                self.problem(node, f"unknown evidence field '{ref.path}.{name}'{hint}")
            elif spec.kind == Kind.LIST:
                self.problem(
                    node,
                    f"'{ref.path}' is a list and has no field '{name}'; "
                    f"use {ref.path}.all(x, x.{name} ...) or {ref.path}[i].{name}",
                )
            else:
                self.problem(node, f"'{ref.path}' is a {spec.kind.value} and has no field '{name}'")
            return None
        canon = f"{ref.canon}.*" if spec.kind == Kind.MAP else f"{ref.canon}.{name}"
        if spec.kind != Kind.ANY:
            self.out.paths.add(canon)
        return _Ref(child, f"{ref.path}.{name}", canon)

    def index(self, node: ast.Index, scope: dict[str, _Ref | None]) -> _Ref | None:
        ref = self.visit(node.operand, scope)
        self.visit(node.index, scope)
        if ref is None:
            return None
        spec = ref.spec
        key = node.index.value if isinstance(node.index, ast.Literal) else None
        if spec.kind == Kind.LIST and spec.item is not None:
            return _Ref(spec.item, f"{ref.path}[]", f"{ref.canon}[]")
        if spec.kind == Kind.MAP and spec.item is not None:
            shown = f"{ref.path}.{key}" if isinstance(key, str) else f"{ref.path}.*"
            self.out.paths.add(f"{ref.canon}.*")
            return _Ref(spec.item, shown, f"{ref.canon}.*")
        if spec.kind == Kind.OBJECT and isinstance(key, str):
            return self.select(ast.Select(node.index.pos, node.operand, key), ref)
        if spec.kind == Kind.ANY:
            return ref
        return None

    def call(self, node: ast.Call, scope: dict[str, _Ref | None]) -> None:
        if node.target is None:
            if node.name not in GLOBAL_FUNCTIONS:
                self.problem(node, f"unknown function '{node.name}'{did_you_mean(node.name, _ALL_FUNCTIONS)}")
            if node.name == "has" and (len(node.args) != 1 or not isinstance(node.args[0], ast.Select)):
                self.problem(node, "has() takes one field selection, e.g. has(system.dpia_reference)")
            for arg in node.args:
                self.visit(arg, scope)
            return
        target = node.target
        if isinstance(target, ast.Ident) and target.name not in scope and target.name not in SCHEMA.fields:
            if target.name != "optional" or node.name not in OPTIONAL_FUNCTIONS:
                self.problem(node, f"unknown function '{target.name}.{node.name}'")
            for arg in node.args:
                self.visit(arg, scope)
            return
        if node.name in MACROS and node.args and isinstance(node.args[0], ast.Ident):
            self.macro(node, node.args[0].name, scope)
            return
        if node.name not in METHOD_FUNCTIONS:
            self.problem(node, f"unknown function '{node.name}'{did_you_mean(node.name, _ALL_FUNCTIONS)}")
        self.visit(target, scope)
        for arg in node.args:
            self.visit(arg, scope)

    def macro(self, node: ast.Call, var: str, scope: dict[str, _Ref | None]) -> None:
        assert node.target is not None
        ref = self.visit(node.target, scope)
        element: _Ref | None = None
        if ref is not None:
            spec = ref.spec.element()
            if spec is None:
                self.problem(node, f"'{ref.path}' is a {ref.spec.kind.value}; {node.name}() needs a list or a map")
            elif ref.spec.kind in (Kind.LIST, Kind.ANY):
                element = _Ref(spec, f"{ref.path}[]", f"{ref.canon}[]")
        inner = {**scope, var: element}
        for arg in node.args[1:]:
            self.visit(arg, inner)


def _children(node: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(node, ast.Op):
        return node.args
    if isinstance(node, ast.ListLit):
        return node.items
    if isinstance(node, ast.MapLit):
        return tuple(e for pair in node.entries for e in pair)
    if isinstance(node, ast.StructLit):
        return tuple(e for _, e in node.fields)
    return ()
