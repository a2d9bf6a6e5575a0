"""Static cost of a CEL expression: comprehension nesting and an estimate of the work an evaluation may do.

The evaluator (Rust, through pyo3) holds the GIL while it runs and cannot be interrupted, so an expression such as
seven nested `.all` over a 10-element list (10^7 iterations: seconds) must be refused when the policy is loaded,
with its place. The estimate: every node costs 1; a comprehension costs its range plus its body times the range's
size (the length of a list literal, else `ASSUMED_SIZE` elements, more than any evidence list Charter fills);
`matches` costs `REGEX_COST`. It is an upper bound for the shapes policies use, not a promise: the runtime budget
(`charter.policies.sandbox`) is the backstop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charter.policies import _cel_ast as ast
from charter.policies._cel_refs import MACROS

MAX_COMPREHENSION_DEPTH = 3
MAX_COST = 1_000_000
ASSUMED_SIZE = 100
REGEX_COST = 50
_MACRO_CALL = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(")


@dataclass(frozen=True, slots=True)
class CostProblem:
    message: str
    pos: int


def problems(tree: ast.Expr | None, source: str) -> list[CostProblem]:
    """Why `source` is too costly to evaluate, or nothing. Without a tree (our parser is narrower than the
    compiler's), every macro call in the text counts as nested in the others: a safe over-estimate."""
    if tree is None:
        calls = list(_MACRO_CALL.finditer(source))
        if len(calls) > MAX_COMPREHENSION_DEPTH:
            return [_too_deep(len(calls), calls[MAX_COMPREHENSION_DEPTH].start())]
        return []
    walk = _Walk()
    cost = walk.cost(tree, 0)
    if walk.deepest > MAX_COMPREHENSION_DEPTH:
        return [_too_deep(walk.deepest, walk.deepest_pos)]
    if cost > MAX_COST:
        return [
            CostProblem(
                f"expression too costly: an estimated {cost:,} evaluation steps exceed the budget of {MAX_COST:,} "
                f"(comprehensions multiply their body by the list's size, assumed {ASSUMED_SIZE} for evidence "
                "lists); iterate over fewer or smaller lists",
                tree.pos,
            )
        ]
    return []


def _too_deep(depth: int, pos: int) -> CostProblem:
    return CostProblem(
        f"comprehensions nested {depth} deep (all/exists/exists_one/map/filter); at most {MAX_COMPREHENSION_DEPTH} "
        "are allowed: each level multiplies the work by its list's size",
        pos,
    )


class _Walk:
    def __init__(self) -> None:
        self.deepest = 0
        self.deepest_pos = 0

    def cost(self, node: ast.Expr, depth: int) -> int:
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        return 1 + sum(self.cost(child, depth) for child in _children(node))

    def call(self, node: ast.Call, depth: int) -> int:
        target = self.cost(node.target, depth) if node.target is not None else 0
        if node.name in MACROS and node.target is not None and len(node.args) >= 2:
            level = depth + 1
            if level > self.deepest:
                self.deepest, self.deepest_pos = level, node.pos
            body = sum(self.cost(a, level) for a in node.args[1:])
            return 1 + target + _size(node.target) * body
        own = REGEX_COST if node.name == "matches" else 1
        return own + target + sum(self.cost(a, depth) for a in node.args)


def _size(node: ast.Expr) -> int:
    if isinstance(node, ast.ListLit):
        return max(1, len(node.items))
    if isinstance(node, ast.MapLit):
        return max(1, len(node.entries))
    return ASSUMED_SIZE


def _children(node: ast.Expr) -> list[ast.Expr]:
    if isinstance(node, ast.Select):
        return [node.operand]
    if isinstance(node, ast.Index):
        return [node.operand, node.index]
    if isinstance(node, ast.ListLit):
        return list(node.items)
    if isinstance(node, ast.MapLit):
        return [e for pair in node.entries for e in pair]
    if isinstance(node, ast.StructLit):
        return [e for _, e in node.fields]
    if isinstance(node, ast.Op):
        return list(node.args)
    return []
