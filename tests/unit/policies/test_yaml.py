"""Located YAML: marks on every node, problems with file:line:column, expression positions mapped to the file."""

from __future__ import annotations

import pytest

from charter.policies._yaml import YNode, expression_location, parse_yaml
from charter.policies.errors import Location, PolicyError


def _problems(text: str | bytes) -> list[str]:
    with pytest.raises(PolicyError) as err:
        parse_yaml(text, "f.yaml")
    return [str(p) for p in err.value.problems]


def test_nodes_carry_positions() -> None:
    root = parse_yaml("a:\n  b: [1, x]\n", "f.yaml")
    assert root.loc == Location("f.yaml", 1, 1)
    assert root.key_locs["a"] == Location("f.yaml", 1, 1)
    b = root.value["a"].value["b"]
    assert b.value[1].loc == Location("f.yaml", 2, 10)
    assert root.plain() == {"a": {"b": [1, "x"]}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1\n", "f.yaml:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("a: 1\na: 2\n", "f.yaml:2:1: duplicate key 'a' (first at line 1)"),
        ("", "f.yaml:1:1: the document is empty"),
        (
            "a: 1\n---\nb: 2\n",
            "f.yaml:2:1: YAML syntax error: expected a single document in the stream but found another document",
        ),
        ("a: 2026-01-01\n", "f.yaml:1:4: unsupported YAML value of type date; quote it to make it a string"),
        ("a: .inf\n", "f.yaml:1:4: numbers must be finite (no .inf / .nan)"),
        ("a: 99999999999999999999\n", "f.yaml:1:4: integer is out of range (must fit in ±2^53)"),
        ("1: x\n", "f.yaml:1:1: mapping keys must be strings, got a number (1); quote it"),
        ("a: !custom x\n", "f.yaml:1:4: invalid YAML value: could not determine a constructor for the tag '!custom'"),
        ("base: &b {x: 1}\nc:\n  <<: *b\n", "f.yaml:3:3: YAML merge keys (<<) are not supported; write the fields out"),
        ("a: &a [*a]\n", "f.yaml:1:4: recursive YAML alias"),
        (b"a: \xff\n", "f.yaml:1:4: file is not valid UTF-8"),
        ("a: \x07\n", "f.yaml:1:4: YAML syntax error: special characters are not allowed"),
    ],
)
def test_rejections_are_located(text: str | bytes, expected: str) -> None:
    assert expected in _problems(text)


def test_alias_expansion_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 10)]
    problems = _problems("\n".join(lines) + "\n")
    assert any("more than" in p and "nodes" in p for p in problems)


def test_deep_nesting_is_rejected() -> None:
    problems = _problems("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems and problems[0].startswith("f.yaml:")


def _scalar(text: str) -> YNode:
    node: YNode = parse_yaml(text, "f.yaml").value["check"]
    assert isinstance(node.value, str)
    return node


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        ("check: abc def\n", 1, 5, (1, 12)),
        ("check: 'abc def'\n", 1, 5, (1, 13)),
        ('check: "abc def"\n', 1, 5, (1, 13)),
        ("check: |\n  abc &&\n    def\n", 2, 3, (3, 5)),
        ("check: >\n  abc &&\n  def\n", 1, 8, (3, 3)),
        ("check: abc &&\n  def\n", 1, 8, (2, 3)),
    ],
)
def test_expression_positions_map_to_the_file(text: str, line: int, column: int, expected: tuple[int, int]) -> None:
    loc = expression_location(_scalar(text), text, line, column)
    assert (loc.line, loc.column) == expected
