"""The test part of the gate: pytest on every core, a RAM disk for temp dirs, coverage with a floor, honest re-runs.

    python scripts/run_tests.py [PYTEST ARGS]     (scripts/check runs it; `make test` runs scripts/check)

- Workers: `CHARTER_TEST_WORKERS` (default: 2 per core, since most tests wait on servers and subprocesses),
  distributed by file (`--dist loadfile`) so a module's servers and fixtures stay in one process, longest modules
  first (tests/conftest.py `LONGEST_FIRST`) so none of them is handed out last and becomes the run's tail.
- Temp dirs under /dev/shm when it is writable (SQLite commits there cost a third of a disk's), else the default.
- Coverage (branch) of `charter` in the test processes; the floor is `fail_under` in pyproject.toml.
- A test that fails is re-run once. One that then passes is FLAKY: listed in the output and in
  test-artifacts/flaky.txt; flaky in two runs in a row fails the gate (fix it, do not re-run it).
- Prints the 25 slowest tests, the slowest modules and the total time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FLAKY = ARTIFACTS / "flaky.txt"


def _basetemp() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="charter-tests.", dir=shm))
    return Path(tempfile.mkdtemp(prefix="charter-tests."))


def _workers() -> str:
    return os.environ.get("CHARTER_TEST_WORKERS") or str(2 * (os.cpu_count() or 1))


def _outcomes(junit: Path) -> dict[str, tuple[str, float]]:
    """Test id → (outcome, seconds) from a JUnit XML report."""
    if not junit.exists():
        return {}
    result: dict[str, tuple[str, float]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                break
            if child.tag == "skipped":
                outcome = "skipped"
        result[test_id] = (outcome, float(case.get("time", "0") or 0))
    return result


def _module(test_id: str) -> str:
    classname = test_id.split("::", 1)[0]
    parts = classname.split(".")
    # classname is dotted: tests.e2e.test_x[.TestClass]; the module is up to the first test_* part.
    for i, part in enumerate(parts):
        if part.startswith("test_"):
            return "/".join(parts[: i + 1]) + ".py"
    return classname


def _summary(first: dict[str, tuple[str, float]], elapsed: float) -> None:
    per_module: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for test_id, (outcome, seconds) in first.items():
        per_module[_module(test_id)] += seconds
        counts[outcome] += 1
    print("\n== slowest modules (test time summed over workers)")
    for module, seconds in sorted(per_module.items(), key=lambda kv: -kv[1])[:8]:
        print(f"{seconds:8.1f}s  {module}")
    cov = ARTIFACTS / "coverage.json"
    if cov.exists():
        totals = json.loads(cov.read_text())["totals"]
        print(f"== coverage (branch): {totals['percent_covered']:.2f}%")
    shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"== tests: {shown}; total time {elapsed / 60:.1f} min ({elapsed:.0f} s)")


def main(argv: list[str]) -> int:
    ARTIFACTS.mkdir(exist_ok=True)
    base = _basetemp()
    started = time.monotonic()
    py = [sys.executable, "-m", "pytest"]
    try:
        junit1 = ARTIFACTS / "junit.xml"
        first_cmd = [
            *py,
            "-q",
            "-n",
            _workers(),
            "--dist",
            "loadfile",
            "--no-loadscope-reorder",  # keep tests/conftest.py's order: the longest modules start first
            "--basetemp",
            str(base / "run"),
            "--durations=25",
            f"--junitxml={junit1}",
            "--cov=charter",
            "--cov-branch",
            "--cov-report=",
            f"--cov-report=json:{ARTIFACTS / 'coverage.json'}",
            *(["--cov-fail-under=0"] if argv else []),  # the floor holds for the whole suite, not a subset
            *argv,
        ]
        code = subprocess.call(first_cmd, cwd=ROOT)
        first = _outcomes(junit1)
        flaky: list[str] = []
        if code != 0 and not [t for t, (o, _) in first.items() if o == "failed"]:
            _summary(first, time.monotonic() - started)
            return code  # a usage error, an interrupted run, or the coverage floor: nothing to re-run
        if code != 0:
            failed = sorted(t for t, (o, _) in first.items() if o == "failed")
            print(f"\n== re-running the {len(failed)} failed test(s) once; a test that fails twice fails the gate")
            junit2 = ARTIFACTS / "junit-rerun.xml"
            rerun_cmd = [
                *py,
                "-q",
                "-n",
                _workers(),
                "--basetemp",
                str(base / "rerun"),
                "--last-failed",
                "--last-failed-no-failures",
                "none",
                f"--junitxml={junit2}",
                "-p",
                "no:cov",
                *argv,
            ]
            code = subprocess.call(rerun_cmd, cwd=ROOT)
            second = _outcomes(junit2)
            flaky = sorted(t for t in failed if second.get(t, ("failed", 0))[0] == "passed")
        previous = set(FLAKY.read_text().split()) if FLAKY.exists() else set()
        FLAKY.write_text("".join(f"{t}\n" for t in flaky))
        if flaky:
            print("\n== FLAKY (failed, then passed on the re-run): each needs a fix or an issue-worthy note")
            for t in flaky:
                print(f"FLAKY {t}")
            twice = sorted(set(flaky) & previous)
            if twice:
                print("== flaky in two runs in a row (fix these, do not re-run them):")
                for t in twice:
                    print(f"FLAKY-TWICE {t}")
                code = code or 1
        _summary(first, time.monotonic() - started)
        return code
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
