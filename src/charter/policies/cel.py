"""CEL expressions: compile once (cached by content digest), check statically, evaluate deny-by-default."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cel

from charter.core.errors import ErrorCode, InvalidInput
from charter.core.hashing import sha256_hex
from charter.policies import _cel_ast, _cel_cost, _cel_refs

MAX_EXPRESSION_CHARS = 4096  # the Rust evaluator recurses; very long chains can exhaust its stack
CACHE_SIZE = 4096
_ERROR_LINE = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")


@dataclass(frozen=True, slots=True)
class ExpressionProblem:
    """Why an expression is rejected, at a 1-based (line, column) inside the expression."""

    message: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled expression with the evidence paths it reads."""

    source: str
    digest: str
    program: Any  # cel.Program
    paths: frozenset[str]


class ExpressionError(InvalidInput):
    """An expression does not compile or uses unknown fields or functions."""

    code = ErrorCode.CEL_INVALID

    def __init__(self, problems: list[ExpressionProblem]) -> None:
        text = "; ".join(f"{p.line}:{p.column}: {p.message}" for p in problems)
        super().__init__(f"invalid CEL expression: {text}")
        self.problems = problems


_cache: OrderedDict[str, Compiled] = OrderedDict()
_lock = threading.Lock()


def digest_of(source: str) -> str:
    """Cache key of an expression: sha256 of its UTF-8 text."""
    return sha256_hex(source.encode("utf-8", "surrogatepass"))


def check(source: str, variables: frozenset[str] = frozenset()) -> tuple[Compiled | None, list[ExpressionProblem]]:
    """Compile and statically check `source`: the compiled form, or None and the problems. `variables` are names
    the expression may read besides the evidence fields (a tool condition's `args`, `tool`, `server`)."""
    if len(source) > MAX_EXPRESSION_CHARS:
        return None, [ExpressionProblem(f"expression longer than {MAX_EXPRESSION_CHARS} characters", 1, 1)]
    if not source.strip():
        return None, [ExpressionProblem("expression is empty", 1, 1)]
    key = digest_of(source) + ("|" + ",".join(sorted(variables)) if variables else "")
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit, []
    try:
        program = cel.compile(source)
    except Exception as exc:  # the extension raises ValueError; anything else is still a rejection
        return None, _syntax_problems(str(exc))
    paths: frozenset[str] = frozenset()
    try:
        tree = _cel_ast.parse(source)
    except _cel_ast.CelParseError:
        tree = None  # cel accepted it; our static view is narrower, so only the compiler's verdict counts
    if tree is not None:
        analysis = _cel_refs.analyze(tree, variables)
        if analysis.problems:
            return None, [ExpressionProblem(f.message, *_line_col(source, f.pos)) for f in analysis.problems]
        paths = frozenset(analysis.paths)
    costly = _cel_cost.problems(tree, source)
    if costly:
        return None, [ExpressionProblem(c.message, *_line_col(source, c.pos)) for c in costly]
    compiled = Compiled(source, key, program, paths)
    with _lock:
        _cache[key] = compiled
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled, []


def compile_expression(source: str, variables: frozenset[str] = frozenset()) -> Compiled:
    """The compiled expression; ExpressionError when it is invalid."""
    compiled, problems = check(source, variables)
    if compiled is None:
        raise ExpressionError(problems)
    return compiled


def cache_info() -> tuple[int, int]:
    """(entries, capacity) of the compiled-expression cache."""
    return len(_cache), CACHE_SIZE


def _line_col(source: str, pos: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(source)))
    line = source.count("\n", 0, pos) + 1
    return line, pos - (source.rfind("\n", 0, pos) + 1) + 1


def _syntax_problems(message: str) -> list[ExpressionProblem]:
    out: list[ExpressionProblem] = []
    for m in _ERROR_LINE.finditer(message):
        reason = m.group(3).strip().removeprefix("Syntax error: ")
        out.append(ExpressionProblem(f"CEL syntax error: {reason}", int(m.group(1)), int(m.group(2))))
    if not out:
        first = message.splitlines()[0] if message else "invalid expression"
        out.append(ExpressionProblem(f"CEL error: {first}", 1, 1))
    return out[:1]


_DIGEST = re.compile(r"(?:sha256:)?[0-9a-f]{64}")


def has_text(value: Any) -> bool:
    """CEL `hasText(v)`: v is a string with at least one non-space character (null and other types: false)."""
    return isinstance(value, str) and bool(value.strip())


def is_digest(value: Any) -> bool:
    """CEL `isDigest(v)`: v is a sha256 digest, `sha256:<64 hex>` or 64 lowercase hex characters."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


# Charter's own functions: the engine's `matches()` compiles its regular expression on every call (25-200 µs),
# these cost about 0.5 µs.
FUNCTIONS: Mapping[str, Any] = {"hasText": has_text, "isDigest": is_digest}


def make_context(variables: Mapping[str, Any]) -> Any:
    """A reusable cel.Context holding the evidence (conversion happens once, not per rule)."""
    try:
        return cel.Context(variables=dict(variables), functions=dict(FUNCTIONS))
    except Exception as exc:
        raise InvalidInput(f"evidence cannot be read by CEL: {exc}", code=ErrorCode.EVIDENCE_INVALID) from None


def run(compiled: Compiled, context: Any) -> tuple[Any, str | None]:
    """Evaluate: (value, None) on success, (None, error text) on any failure (including engine panics)."""
    try:
        return compiled.program.execute(context), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pyo3 panics derive from BaseException: deny too
        return None, describe_error(exc)


def describe_error(exc: BaseException) -> str:
    """One-line reason for an evaluation failure."""
    if isinstance(exc, KeyError):
        return f"no such key {exc.args[0]!r}" if exc.args else "no such key"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"
