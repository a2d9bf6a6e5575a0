"""GenAI adapters: each tool's real output format, a truncated file, another tool's file, the size limit."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from charter.evaluation.genai import (
    GenaiInputError,
    genai_evidence,
    not_evaluated,
    read_garak,
    read_inspect,
    read_lm_eval,
    read_promptfoo,
    read_report,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "genai"
GARAK = FIXTURES / "garak-chatbot.report.jsonl"
GARAK_HARDENED = FIXTURES / "garak-chatbot-hardened.report.jsonl"
LM_EVAL = FIXTURES / "lm-eval-results.json"
PROMPTFOO = FIXTURES / "promptfoo-results.json"
PROMPTFOO_REDTEAM = FIXTURES / "promptfoo-redteam-results.json"


def _truncate(src: Path, dst: Path, keep: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


# ---- garak -------------------------------------------------------------------------------------------------------


def test_garak_report_per_probe_and_metadata() -> None:
    report = read_garak(GARAK)
    assert report.tool == "garak"
    assert report.version == "0.17.1"
    assert report.model == "openai.OpenAICompatible:support-chatbot"
    assert report.source.sha256 == hashlib.sha256(GARAK.read_bytes()).hexdigest()
    assert report.source.size == GARAK.stat().st_size
    items = {i.name: i for i in report.items}
    dan = items["dan.Dan_11_0"]
    assert (dan.attempts, dan.failures, dan.rate, dan.category, dan.family) == (10, 4, 0.4, "attack", "dan")
    assert items["realtoxicityprompts.RTPInsult"].category == "toxicity"
    assert items["leakreplay.LiteratureCloze"].category == "leakage"
    assert items["donotanswer.MaliciousUses"].category == "refusal"


def test_garak_summaries_pool_probes_by_category() -> None:
    ev = genai_evidence([read_garak(GARAK)])
    assert ev["evaluated"] is True and ev["red_teamed"] is True
    assert ev["attack_success_rate"] == pytest.approx(8 / 50)  # dan 4/10, promptinject 3/20, encoding 1/20
    assert ev["toxicity_rate"] == 0.0 and ev["leakage_rate"] == 0.0
    assert ev["refusal_rate"] == pytest.approx(0.9)
    assert ev["garak"]["dan.Dan_11_0"] == {
        "attempts": 10, "failures": 4, "rate": 0.4, "category": "attack", "family": "dan",
    }  # fmt: skip
    (source,) = ev["sources"]
    assert source["tool"] == "garak" and source["version"] == "0.17.1"
    assert source["sha256"] == "sha256:" + hashlib.sha256(GARAK.read_bytes()).hexdigest()
    hardened = genai_evidence([read_garak(GARAK_HARDENED)])
    assert hardened["attack_success_rate"] == pytest.approx(1 / 50)


def test_garak_truncated_mid_line_names_the_line(tmp_path: Path) -> None:
    path = _truncate(GARAK, tmp_path / "cut.report.jsonl")
    with pytest.raises(GenaiInputError, match=r"cut\.report\.jsonl: line \d+: invalid JSON .*truncated"):
        read_garak(path)


def test_garak_truncated_at_a_line_boundary_has_no_completion(tmp_path: Path) -> None:
    lines = GARAK.read_bytes().splitlines(keepends=True)
    path = tmp_path / "short.report.jsonl"
    path.write_bytes(b"".join(lines[:-1]))  # every eval entry, but the run's completion entry is missing
    with pytest.raises(GenaiInputError, match="no completion entry: the garak run was interrupted"):
        read_garak(path)


def test_garak_rejects_another_tools_file() -> None:
    with pytest.raises(GenaiInputError, match=r"lm-eval-results\.json: line 1: invalid JSON.*not a garak report"):
        read_garak(LM_EVAL)


def test_garak_eval_counts_must_add_up(tmp_path: Path) -> None:
    text = GARAK.read_text().replace('"passed": 6, "fails": 4', '"passed": 7, "fails": 4', 1)
    path = tmp_path / "bad.report.jsonl"
    path.write_text(text)
    with pytest.raises(GenaiInputError, match=r"bad\.report\.jsonl: line \d+, total_evaluated: passed \(7\) \+ fails"):
        read_garak(path)


def test_garak_older_eval_entries_with_total(tmp_path: Path) -> None:
    path = tmp_path / "old.report.jsonl"
    lines = [
        {"entry_type": "init", "garak_version": "0.9.0.9", "start_time": "x", "run": "r"},
        {"entry_type": "eval", "probe": "dan.Dan_11_0", "detector": "dan.DAN", "passed": 3, "total": 5},
        {"entry_type": "completion", "end_time": "y", "run": "r"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (item,) = read_garak(path).items
    assert (item.attempts, item.failures) == (5, 2)


def test_size_limit_is_a_clear_error() -> None:
    with pytest.raises(GenaiInputError, match=r"over the 1000-byte limit \(--genai-max-bytes\)"):
        read_report("garak", GARAK, max_bytes=1000)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(GenaiInputError, match="no such file"):
        read_report("lm_eval", tmp_path / "nope.json")


def test_real_garak_report() -> None:
    """A report written by real garak (scripts/make-garak-fixture), when one has been generated."""
    real = FIXTURES / "garak-real.report.jsonl"
    if not real.exists():
        pytest.skip("no garak-real.report.jsonl (run scripts/make-garak-fixture where network and disk allow)")
    report = read_garak(real)
    assert report.items and report.version


# ---- lm-eval -----------------------------------------------------------------------------------------------------


def test_lm_eval_results() -> None:
    report = read_lm_eval(LM_EVAL)
    assert (report.tool, report.version, report.model) == ("lm_eval", "0.4.13", "acme/support-chatbot-7b")
    items = {i.name: i for i in report.items}
    assert items["arc_easy"].accuracy == 0.7643 and items["arc_easy"].attempts == 2376
    assert items["gsm8k"].accuracy == 0.5133  # exact_match, first filter
    ev = genai_evidence([report])
    assert ev["task_accuracy"]["hellaswag"] == 0.5721
    assert ev["red_teamed"] is False and ev["attack_success_rate"] is None
    assert ev["lm_eval"]["gsm8k"]["attempts"] == 1319


def test_lm_eval_truncated(tmp_path: Path) -> None:
    path = _truncate(LM_EVAL, tmp_path / "results.json")
    with pytest.raises(GenaiInputError, match=r"results\.json: line \d+ column \d+: is not valid JSON"):
        read_lm_eval(path)


def test_lm_eval_rejects_another_tools_file(tmp_path: Path) -> None:
    with pytest.raises(GenaiInputError, match=r"log\.json: results: .*not an lm-eval results JSON"):
        read_lm_eval(_inspect_log(tmp_path / "log.json"))
    with pytest.raises(GenaiInputError, match=r"line 2 column 1: is not valid JSON.*expected an lm-eval results JSON"):
        read_lm_eval(GARAK_HARDENED)


def test_lm_eval_names_the_bad_field(tmp_path: Path) -> None:
    doc = json.loads(LM_EVAL.read_text())
    doc["n-samples"]["gsm8k"]["effective"] = "many"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GenaiInputError, match=r"r\.json: n-samples\.gsm8k\.effective: must be a non-negative integer"):
        read_lm_eval(path)


# ---- Inspect AI (logs written with inspect_ai's own types) -------------------------------------------------------


def _inspect_log(path: Path, *, accuracy: float = 0.92, status: str = "success") -> Path:
    log_types = pytest.importorskip("inspect_ai.log")
    spec = log_types.EvalSpec(
        created="2026-12-01T10:00:00+00:00",
        task="inspect_evals/xstest",
        dataset=log_types.EvalDataset(name="xstest", samples=250),
        model="openai/support-chatbot",
        config=log_types.EvalConfig(),
        packages={"inspect_ai": "0.3.285"},
    )
    metrics = {
        "accuracy": log_types.EvalMetric(name="accuracy", value=accuracy),
        "stderr": log_types.EvalMetric(name="stderr", value=0.017),
    }
    results = log_types.EvalResults(
        total_samples=250,
        completed_samples=250,
        scores=[log_types.EvalScore(name="choice", scorer="choice", metrics=metrics)],
    )
    log = log_types.EvalLog(status=status, eval=spec, results=results)
    log_types.write_eval_log(log, str(path))
    return path


@pytest.mark.parametrize("suffix", [".eval", ".json"])
def test_inspect_log(tmp_path: Path, suffix: str) -> None:
    path = _inspect_log(tmp_path / f"log{suffix}")
    report = read_inspect(path)
    assert (report.tool, report.version, report.model) == ("inspect", "0.3.285", "openai/support-chatbot")
    (item,) = report.items
    assert (item.name, item.category, item.attempts, item.accuracy) == ("inspect_evals/xstest", "task", 250, 0.92)
    assert report.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert genai_evidence([report])["task_accuracy"] == {"inspect_evals/xstest": 0.92}


@pytest.mark.parametrize("suffix", [".eval", ".json"])
def test_inspect_truncated(tmp_path: Path, suffix: str) -> None:
    path = _truncate(_inspect_log(tmp_path / f"full{suffix}"), tmp_path / f"cut{suffix}")
    with pytest.raises(GenaiInputError, match=r"cut\.(eval|json): .*(truncated|not valid JSON|damaged)"):
        read_inspect(path)


def test_inspect_unfinished_run_is_refused(tmp_path: Path) -> None:
    path = _inspect_log(tmp_path / "log.json", status="error")
    with pytest.raises(GenaiInputError, match=r"log\.json: status: the evaluation did not finish"):
        read_inspect(path)


def test_inspect_rejects_another_tools_file(tmp_path: Path) -> None:
    with pytest.raises(GenaiInputError, match=r"lm-eval-results\.json: eval: .*not an Inspect AI log"):
        read_inspect(LM_EVAL)
    with pytest.raises(GenaiInputError, match=r"g\.json: line 2 column 1: is not valid JSON"):
        shutil.copy(GARAK, copied := tmp_path / "g.json")
        read_inspect(copied)


# ---- promptfoo (written by real promptfoo 0.123.1, echo provider: tests/fixtures/genai/README.md) ------------


def test_promptfoo_eval_results() -> None:
    report = read_promptfoo(PROMPTFOO)
    assert (report.tool, report.version, report.model) == ("promptfoo", "0.123.1", "echo")
    (item,) = report.items
    assert (item.name, item.category, item.attempts, item.failures) == ("support-chatbot-smoke", "task", 4, 2)
    assert report.source.sha256 == hashlib.sha256(PROMPTFOO.read_bytes()).hexdigest()
    assert genai_evidence([report])["task_accuracy"] == {"support-chatbot-smoke": 0.5}


def test_promptfoo_red_team_results() -> None:
    ev = genai_evidence([read_promptfoo(PROMPTFOO_REDTEAM)])
    assert ev["red_teamed"] is True
    assert ev["attack_success_rate"] == pytest.approx(2 / 3)  # jailbreak and prompt injection got through, base64 not
    assert ev["refusal_rate"] == 1.0 and ev["toxicity_rate"] == 0.0 and ev["leakage_rate"] == 0.5
    assert ev["promptfoo"]["hijacking/prompt-injection"]["family"] == "hijacking"
    assert ev["promptfoo"]["prompt-extraction"] == {
        "attempts": 1, "failures": 1, "rate": 1.0, "category": "leakage", "family": "prompt-extraction",
    }  # fmt: skip


def test_promptfoo_truncated(tmp_path: Path) -> None:
    path = _truncate(PROMPTFOO, tmp_path / "results.json")
    with pytest.raises(GenaiInputError, match=r"results\.json: line \d+ column \d+: is not valid JSON"):
        read_promptfoo(path)


def test_promptfoo_rejects_another_tools_file() -> None:
    with pytest.raises(GenaiInputError, match=r"lm-eval-results\.json: results\.results: .*not a promptfoo results"):
        read_promptfoo(LM_EVAL)


def test_promptfoo_red_team_plugins_are_categorised(tmp_path: Path) -> None:
    rows = [
        {"success": False, "testCase": {"metadata": {"pluginId": "harmful:hate"}}, "provider": {"id": "openai:x"}},
        {"success": True, "testCase": {"metadata": {"pluginId": "harmful:cybercrime"}}, "provider": {"id": "openai:x"}},
        {"success": False, "testCase": {"metadata": {"pluginId": "harmful:cybercrime", "strategyId": "jailbreak"}}},
        {"success": True, "testCase": {"metadata": {"pluginId": "pii:direct"}}},
        {"success": False, "failureReason": 2, "testCase": {"metadata": {"pluginId": "hijacking"}}},
    ]
    path = tmp_path / "redteam.json"
    path.write_text(
        json.dumps({"results": {"version": 3, "results": rows}, "metadata": {"promptfooVersion": "0.123.0"}})
    )
    ev = genai_evidence([read_promptfoo(path)])
    assert ev["toxicity_rate"] == 1.0 and ev["refusal_rate"] == 1.0 and ev["attack_success_rate"] == 1.0
    assert ev["leakage_rate"] == 0.0
    assert set(ev["promptfoo"]) == {"harmful:hate", "harmful:cybercrime", "harmful:cybercrime/jailbreak", "pii:direct"}


def test_promptfoo_names_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"results": {"results": [{"success": "yes"}]}}))
    with pytest.raises(GenaiInputError, match=r"r\.json: results\.results\[0\]\.success: must be true or false"):
        read_promptfoo(path)


def test_nothing_given_is_not_evaluated() -> None:
    ev = not_evaluated()
    assert ev["evaluated"] is False and ev["red_teamed"] is False and ev["attack_success_rate"] is None
    assert ev["garak"] == {} and ev["sources"] == []
