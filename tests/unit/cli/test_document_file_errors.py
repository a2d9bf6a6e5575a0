"""`charter document add` refuses a bad file or kind with exit code 2 naming it, before calling the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import cli_in_process

NOWHERE = {"CHARTER_URL": "http://127.0.0.1:9", "CHARTER_API_KEY": "chk_x_y"}  # never reached


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b": : :\n\t-", "doc.yaml:1:1"),  # not YAML: was a yaml.ParserError traceback, exit 1
        (b"\xff\xfe\x00binary", "doc.yaml"),  # not UTF-8: was a UnicodeDecodeError traceback
        (b"- just\n- a list\n", "expected a mapping"),
    ],
)
def test_a_file_that_is_not_a_yaml_mapping_is_a_clear_error(tmp_path: Path, content: bytes, says: str) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_bytes(content)
    r = cli_in_process(NOWHERE, "document", "add", "credit@1.0", "--kind", "fria", "--file", str(doc), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and says in r.stderr, r.stderr


def test_an_unknown_kind_names_the_option_and_its_values(tmp_path: Path) -> None:
    doc = tmp_path / "doc.yaml"
    doc.write_text("sections: {}\n")
    r = cli_in_process(NOWHERE, "document", "add", "credit@1.0", "--kind", "dpia", "--file", str(doc), cwd=tmp_path)
    assert r.returncode == 2 and "--kind" in r.stderr and "post-market-plan" in r.stderr, r.stderr


def test_a_device_or_an_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    """/dev/zero was read until memory ran out; a file over the 1 MB YAML limit is refused by its size."""
    r = cli_in_process(NOWHERE, "document", "add", "c@1", "--kind", "fria", "--file", "/dev/zero", cwd=tmp_path)
    assert r.returncode == 2 and "--file" in r.stderr and "regular file" in r.stderr, r.stderr
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2_000_001)
    r = cli_in_process(NOWHERE, "document", "add", "c@1", "--kind", "fria", "--file", str(big), cwd=tmp_path)
    assert r.returncode == 2 and "big.yaml" in r.stderr and "larger than" in r.stderr, r.stderr
