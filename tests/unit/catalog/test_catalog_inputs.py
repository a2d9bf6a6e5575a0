"""Local inputs: SPDX validation, model cards, answers files, artifact digests, formats, CSV/Parquet schemas."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.catalog import artifacts, spdx, tabular, terms
from charter.catalog.card import parse_card, read_card
from charter.catalog.formats import detect
from charter.cli.commands.catalog import ask_questionnaire, load_answers
from charter.core.errors import InvalidInput
from charter.core.hashing import sha256_tree


def test_spdx_ids_shipped_and_expressions_normalised() -> None:
    ids = spdx.license_ids()
    assert len(ids) > 600 and {"MIT", "Apache-2.0", "CC-BY-4.0", "ODbL-1.0"} <= set(ids)
    assert spdx.normalize("apache-2.0") == "Apache-2.0"
    assert spdx.normalize("(mit and bsd-3-clause) or GPL-2.0-only with classpath-exception-2.0") == (
        "(MIT AND BSD-3-Clause) OR GPL-2.0-only WITH Classpath-exception-2.0"
    )
    assert spdx.normalize("LicenseRef-acme-internal") == "LicenseRef-acme-internal"
    assert spdx.normalize("openrail", extra=tuple(terms.KNOWN_MODEL_LICENSES)) == "openrail"


@pytest.mark.parametrize(
    ("value", "hint"),
    [("Apache2", "Apache-2.0"), ("CC-BY-40", "CC-BY-4.0"), ("MIT MIT", "AND / OR"), ("MIT OR", "incomplete")],
)
def test_bad_spdx_names_the_field_and_suggests(value: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as err:
        spdx.normalize(value, field="license")
    assert err.value.field == "license" and err.value.code == "invalid_license"
    assert hint in err.value.message and err.value.message.startswith("license:")


def test_usage_terms_from_upstream_licenses() -> None:
    assert "medical-advice" in terms.terms_for("bigscience-openrail-m").restricted_purposes
    assert terms.terms_for("CC-BY-NC-4.0").restricted_purposes == ("commercial-use",)
    assert terms.terms_for("MIT").restricted_purposes == ()
    both = terms.terms_for("llama3 OR CC-BY-NC-SA-4.0").restricted_purposes
    assert "commercial-use" in both and "military-and-warfare" in both


CARD = """---
license: apache-2.0
library_name: transformers
datasets: [loans]
date: 2024-05-01
---
# Credit model

## Intended use
Consumer credit decisions up to EUR 50k.
"""


def test_card_front_matter_and_sections() -> None:
    card = parse_card(CARD, "README.md")
    assert card["license"] == "apache-2.0" and card["date"] == "2024-05-01"
    assert card["sections"]["Intended use"].startswith("Consumer credit")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("---\nlicense: mit\ntags: [a, b\n---\n", "README.md:3:12"),
        ("---\nlicense: mit\n  bad: x\n---\n", "README.md:3:6"),
        ("---\na: &x 1\nb: *x\n---\n", "README.md:3:4"),
        ("---\nlicense: mit\n", "README.md:1:1"),
    ],
)
def test_malformed_card_yaml_names_line_and_column(text: str, where: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_card(text, "README.md")
    assert err.value.message.startswith(where + ":"), err.value.message
    assert err.value.field == "card"


def test_missing_card_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        read_card(tmp_path / "nope.md")
    assert "no such file" in err.value.message and err.value.field == "card"


def test_answers_file_errors_point_at_the_line(tmp_path: Path) -> None:
    f = tmp_path / "answers.yaml"
    f.write_text("prohibited:\n  manipulation: false\n  social_scoring: maybe\n")
    with pytest.raises(InvalidInput) as err:
        load_answers(f)
    assert err.value.message.startswith(f"{f}:3:3: answers.prohibited.social_scoring:"), err.value.message
    assert err.value.field == "answers.prohibited.social_scoring" and "(and 8 more)" in err.value.message
    f.write_text("prohibited:\n  manipulation: false\n")
    with pytest.raises(InvalidInput) as err:
        load_answers(f)
    assert err.value.message.startswith(f"{f}:1:1: answers.prohibited.exploiting_vulnerabilities: Field required")
    f.write_text("prohibited: [\n")
    with pytest.raises(InvalidInput) as err:
        load_answers(f)
    assert err.value.code == "malformed_yaml" and f"{f}:2:1" in err.value.message


def test_file_digest_is_plain_sha256(tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    data = b"x" * (3 * 1024 * 1024 + 7)
    f.write_bytes(data)
    seen: list[int] = []
    info = artifacts.inspect(f, seen.append)
    assert info.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert sum(seen) == len(data) and info.size == len(data)
    assert (info.format, info.framework) == ("onnx", "onnx")


def test_directory_digest_equals_core_sha256_tree(tmp_path: Path) -> None:
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"w" * 1000)
    (tmp_path / "m" / "sub" / "tokenizer.json").write_text("[]")
    info = artifacts.inspect(tmp_path / "m")
    assert info.digest == "sha256:" + sha256_tree(tmp_path / "m")
    assert [f.path for f in info.files] == ["config.json", "model.safetensors", "sub/tokenizer.json"]
    assert (info.format, info.framework) == ("safetensors", "transformers")
    with pytest.raises(InvalidInput) as err:
        artifacts.inspect(tmp_path / "missing.pt")
    assert err.value.field == "artifact" and "no such file" in err.value.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.safetensors", ("safetensors", None)),
        ("clf.joblib", ("joblib", "scikit-learn")),
        ("clf.pkl", ("pickle", None)),
        ("net.pt", ("pt", "pytorch")),
        ("llm.Q4_K_M.gguf", ("gguf", "llama.cpp")),
        ("notes.txt", (None, None)),
    ],
)
def test_format_from_extension(name: str, expected: tuple[str | None, str | None]) -> None:
    assert detect([(name, 10)]) == expected


def test_csv_and_parquet_schema_and_rows(tmp_path: Path) -> None:
    csv = tmp_path / "loans.csv"
    csv.write_text("id,amount,approved\n" + "".join(f"{i},{i * 1.5},{i % 2 == 0}\n" for i in range(2500)))
    info = tabular.read_table_info(csv)
    assert info is not None and info.rows == 2500 and info.format == "csv"
    assert [c["name"] for c in info.schema()] == ["id", "amount", "approved"]
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), tmp_path / "d.parquet")
    pinfo = tabular.read_table_info(tmp_path / "d.parquet")
    assert pinfo is not None and pinfo.rows == 3 and pinfo.schema()[1] == {"name": "b", "type": "string"}
    assert tabular.read_table_info(tmp_path / "notes.bin") is None
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInput) as err:
        tabular.read_table_info(tmp_path / "bad.parquet")
    assert err.value.field == "file"


def test_interactive_questionnaire_reads_every_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["n"] * 10  # prohibited
    lines += ["", "n", "n", ""]  # annex_i: legislation, safety component, third-party, section
    lines += ["4(a)", "y", "", "", "", ""]  # annex_iii: point, profiling, derogation, rationale, excluded, reason
    lines += ["y", "n", "n", "n", "n", "n", "n", "n", "n"]  # transparency + capabilities
    lines += ["n", "", "n", "n", "n"]  # gpai: general purpose, flops, designated, outside union, open source
    lines += ["", "workplace, education", "y", "", "", "n", "deployer"]  # context, role last
    lines += ["y", "n", "n", "n"]  # data
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    doc = ask_questionnaire()
    assert doc["annex_iii"]["point"] == "4(a)" and doc["annex_iii"]["profiling"] is True
    assert doc["transparency"]["interacts_with_natural_persons"] is True
    assert doc["context"]["deployment_context"] == ["workplace", "education"]
    assert doc["context"]["deployer_type"] == "private" and doc["data"]["personal_data"] is True
    assert doc["context"]["role"] == "deployer"
    assert not any(doc["prohibited"].values())
