"""The one error-code catalogue (charter.core.errors): every code has a kind, status and title, docs/errors.md lists
every code as the catalogue has it, and code outside the catalogue names codes as `ErrorCode` members, not strings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from charter.core.errors import CATALOGUE, STATUS, ErrorCode, ErrorKind, status_of, title_of
from charter.deployments.model import Reason

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "charter"
DOC = ROOT / "docs" / "errors.md"
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
EXEMPT = {"core/errors.py"}


def test_every_code_has_one_entry() -> None:
    assert set(CATALOGUE) == set(ErrorCode)
    for code in ErrorCode:
        assert CODE.match(code.value) and code.name == code.value.upper(), code
        spec = CATALOGUE[code]
        assert spec.title
        assert spec.status is None or 400 <= spec.status <= 599


def test_status_follows_the_kind_unless_the_catalogue_says_otherwise() -> None:
    assert CATALOGUE[ErrorCode.LICENSE_NOT_FOUND].status == STATUS[ErrorKind.NOT_FOUND] == 404
    assert CATALOGUE[ErrorCode.UPSTREAM_UNAVAILABLE].status == 502
    assert CATALOGUE[ErrorCode.USAGE].status is None  # the CLI's own: never sent by a server
    assert status_of("rate_limited", 403) == 429 and status_of("license_status_unavailable", 403) == 503
    assert status_of("no_license", 400) == 403 and status_of("not_a_code", 403) == 403
    assert title_of("no_license") == "No license covers this call" and title_of("not_a_code") == "not a code"


def test_every_gateway_denial_reason_is_catalogued() -> None:
    special = {Reason.RATE_LIMITED: 429, Reason.LICENSE_STATUS_UNAVAILABLE: 503}
    for reason in Reason:
        assert reason.value in CATALOGUE, reason
        assert status_of(reason, 0) == special.get(reason, 403), reason  # the gateway's status of the denial


def _row(code: ErrorCode) -> str:
    spec = CATALOGUE[code]
    status = "CLI" if spec.status is None else str(spec.status)
    return f"| `{code.value}` | {status} | {spec.kind.value} | {spec.title} |"


def expected_table() -> str:
    head = "| code | HTTP status | kind | title |\n| --- | --- | --- | --- |"
    return "\n".join([head, *(_row(c) for c in sorted(ErrorCode, key=lambda c: c.value))])


def test_docs_list_every_code_as_the_catalogue_has_it() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = "<!-- catalogue:start -->\n", "\n<!-- catalogue:end -->"
    assert start in text and end in text, f"{DOC} needs the catalogue table between {start.strip()} and {end.strip()}"
    documented = text[text.index(start) + len(start) : text.index(end)]
    assert documented == expected_table(), (
        f"docs/errors.md is out of step with charter.core.errors.CATALOGUE; the table should read:\n{expected_table()}"
    )


def _code_params() -> dict[str, set[int]]:
    """Function and class names of src whose parameter `code` takes a positional argument (index after self)."""
    out: dict[str, set[int]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                if names and names[0] in ("self", "cls"):
                    names = names[1:]
                if "code" in names:
                    target = node.name
                    out.setdefault(target, set()).add(names.index("code"))
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        names = [a.arg for a in item.args.args][1:]
                        if "code" in names:
                            out.setdefault(node.name, set()).add(names.index("code"))
    return out


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        return node.value
    return None


def code_literals(path: Path, params: dict[str, set[int]], root: Path = SRC) -> list[str]:
    """`file:line: code` for each error code written as a string: `code="x"`, `code = "x"`, `{"code": "x"}`,
    a positional code argument, `x.code == "x"` / `x.code in ("x", …)`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "code" and (value := _literal(kw.value)):
                    found.append((node.lineno, value))
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            for index in params.get(name, ()):
                if index < len(node.args) and (value := _literal(node.args[index])):
                    found.append((node.lineno, value))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "code" for t in targets) and (value := _literal(node.value)):
                found.append((node.lineno, value))
        elif isinstance(node, ast.Dict):
            for key, item in zip(node.keys, node.values, strict=True):
                if _literal(key) == "code" and (value := _literal(item)):
                    found.append((node.lineno, value))
        elif isinstance(node, ast.Compare):
            left = node.left
            if isinstance(left, ast.Attribute) and left.attr == "code":
                for right in node.comparators:
                    items = right.elts if isinstance(right, ast.Tuple | ast.List | ast.Set) else [right]
                    found.extend((node.lineno, v) for v in map(_literal, items) if v)
    rel = path.relative_to(root)
    return [f"{rel}:{line}: {value}" for line, value in sorted(found)]


def test_no_error_code_is_written_as_a_string_outside_the_catalogue() -> None:
    params = _code_params()
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if str(path.relative_to(SRC)) not in EXEMPT
        for hit in code_literals(path, params)
    ]
    assert found == [], "use ErrorCode members (charter.core.errors) instead of:\n" + "\n".join(found)


@pytest.mark.parametrize("source", ['raise NotFound("x", code="y")', 'usage("bad_flag", "m")', 'x = {"code": "z"}'])
def test_the_literal_check_finds_literals(tmp_path: Path, source: str) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert code_literals(path, {"usage": {0}}, root=tmp_path) != []
