"""Pre-deployment evaluation: Charter's fairness + metrics vs Fairlearn 0.15 MetricFrame on the same Parquet file,
and `charter evaluate` client-side vs `charter evaluate --upload` (the server computes) against a real server.

    python bench/evaluate.py                    # 1M rows, 4-group sensitive attribute, Fairlearn in its own venv
    python bench/evaluate.py --rows 200000 --skip-fairlearn
    python bench/evaluate.py --rows 100000 --skip-fairlearn --upload-only   # quick: client vs server only

Upload: `charter init` in a temporary home, `charter serve` on a free loopback port, a minimal-risk system and model
version; then the same `charter evaluate SYSTEM@VERSION --predictions FILE ...` (CLI subprocess, best of
--upload-repeat) with and without --upload; the ratio upload / client-side is printed (target <= 2x).

Data (seeded): label, prediction, score and a 4-group attribute with different selection rates, written to
bench/.data/. Charter runs in this process (best of --repeat); Fairlearn 0.15.0 runs as a subprocess from the
throwaway venv bench/.venvs/fairlearn (created here: fairlearn==0.15.0, pandas, scikit-learn, pyarrow) and computes
selection rate, TPR, FPR and accuracy by group with MetricFrame. Both print their per-group numbers and this script
checks they agree to 1e-9. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
VENV = HERE / ".venvs" / "fairlearn"
PEER = ["fairlearn==0.15.0", "pandas", "scikit-learn", "pyarrow"]
GROUPS = ("group_a", "group_b", "group_c", "group_d")

FAIRLEARN_SCRIPT = r"""
import json, sys, time
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate, false_positive_rate
from sklearn.metrics import accuracy_score

t0 = time.perf_counter()
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
mf = MetricFrame(
    metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
             "accuracy": accuracy_score},
    y_true=df["y"], y_pred=df["y_hat"], sensitive_features=df["group"],
)
by = mf.by_group
t2 = time.perf_counter()
print(json.dumps({
    "load_s": t1 - t0, "compute_s": t2 - t1,
    "by_group": {str(g): {k: float(by.loc[g, k]) for k in by.columns} for g in by.index},
}))
"""


def generate(path: Path, rows: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    group = rng.choice(len(GROUPS), size=rows, p=[0.4, 0.3, 0.2, 0.1])
    y = rng.random(rows) < 0.35
    score = np.clip(0.35 * y + 0.65 * rng.random(rows) - 0.05 * group, 0.0, 1.0)
    table = pa.table(
        {
            "y": y.astype(np.int8),
            "y_hat": (score >= 0.5).astype(np.int8),
            "p": score,
            "group": pa.array(np.array(GROUPS)[group]),
        }
    )
    pq.write_table(table, path)


def charter_run(path: Path, repeat: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    from charter.evaluation import bootstrap_intervals, compute_fairness, compute_performance, load_predictions

    best: dict[str, float] = {}
    result: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        data = load_predictions(path, score="p", sensitive=["group"])
        t1 = time.perf_counter()
        fairness = compute_fairness(data.y_true, data.y_pred, data.sensitive)
        t2 = time.perf_counter()
        performance = compute_performance(data.y_true, data.y_pred, data.y_score)
        t3 = time.perf_counter()
        ci = bootstrap_intervals(data.y_true, data.y_pred, data.sensitive)
        t4 = time.perf_counter()
        times = {"load_s": t1 - t0, "fairness_s": t2 - t1, "metrics_s": t3 - t2, "bootstrap_s": t4 - t3}
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
        result = (fairness["group"], performance, ci)
    attr, performance, ci = result
    by_group = {
        g.group: {"selection_rate": g.selection_rate, "tpr": g.tpr, "fpr": g.fpr, "accuracy": g.accuracy}
        for g in attr.groups
    }
    return best | {
        "by_group": by_group,
        "dp_diff": attr.dp_diff,
        "eo_diff": attr.eo_diff,
        "accuracy": performance.accuracy,
        "roc_auc": performance.roc_auc,
        "resamples": ci.resamples,
    }


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import fairlearn, pandas, sklearn, pyarrow; print(fairlearn.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "0.15.0":
        return python
    print(f"creating {VENV} with {' '.join(PEER)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER], check=True)
    return python


def fairlearn_run(python: Path, path: Path, repeat: int) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for _ in range(repeat):
        out = subprocess.run(
            [str(python), "-c", FAIRLEARN_SCRIPT, str(path)], check=True, capture_output=True, text=True
        )
        run = json.loads(out.stdout.strip().splitlines()[-1])
        if not best or run["compute_s"] < best["compute_s"]:
            best = run
    return best


def max_difference(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> float:
    return max(abs(a[g][k] - b[g][k]) for g in a for k in a[g])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _charter(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "charter", *args, "--json"], env=env, capture_output=True, text=True, timeout=1800
    )
    elapsed = time.perf_counter() - t0
    if out.returncode not in (0, 1):  # 1: a verdict that says no
        raise RuntimeError(f"charter {' '.join(args)} failed ({out.returncode}): {out.stdout[-500:]} {out.stderr}")
    doc: dict[str, Any] = json.loads(out.stdout) if out.stdout.strip() else {}
    return elapsed, doc


def upload_run(path: Path, repeat: int, resamples: int) -> dict[str, Any]:
    """Client-side and server-side (--upload) evaluation of `path` through the CLI against a real server."""
    with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmp:
        work = Path(tmp)
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "CHARTER_HOME": str(work / "home"),
            "CHARTER_LOG_LEVEL": "warning",
            "CHARTER_URL": f"http://127.0.0.1:{port}",
        }
        _, init = _charter(env, "init")
        env["CHARTER_API_KEY"] = init["key"]
        log = (work / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "charter", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"charter serve exited with {server.returncode}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                        break
                except Exception:
                    if time.monotonic() > deadline:
                        raise RuntimeError("charter serve not ready after 60 s") from None
                    time.sleep(0.2)
            artifact = work / "model.bin"
            artifact.write_bytes(b"bench model")
            answers = work / "answers.yaml"
            sys.path.insert(0, str(ROOT / "src"))
            from charter.catalog.questionnaire import NO_PROHIBITED

            answers.write_text(json.dumps({"prohibited": NO_PROHIBITED}))
            _charter(env, "system", "register", "bench", "--purpose", "benchmark", "--answers", str(answers))
            _charter(env, "model", "register", "bench@1.0", "--artifact", str(artifact))
            args = ["evaluate", "bench@1.0", "--predictions", str(path), "--score", "p", "--sensitive", "group"]
            args += ["--bootstrap", str(resamples)]
            times: dict[str, float] = {}
            figures: dict[str, Any] = {}
            for mode, extra in (("client", []), ("upload", ["--upload"])):
                for _ in range(repeat):
                    elapsed, doc = _charter(env, *args, *extra)
                    times[mode] = min(elapsed, times.get(mode, elapsed))
                    figures[mode] = doc["assessment"]
            same = all(
                figures["client"]["evidence"][k] == figures["upload"]["evidence"][k]
                for k in ("performance", "fairness", "fairness_summary")
            )
            return {
                "client_s": times["client"],
                "upload_s": times["upload"],
                "same_figures": same,
                "computed_by": (figures["client"]["computed_by"], figures["upload"]["computed_by"]),
            }
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="Charter runs (best is reported)")
    parser.add_argument("--peer-repeat", type=int, default=1, help="Fairlearn runs (best is reported)")
    parser.add_argument("--skip-fairlearn", action="store_true")
    parser.add_argument("--skip-upload", action="store_true", help="no client-side vs --upload comparison")
    parser.add_argument("--upload-only", action="store_true", help="only the client-side vs --upload comparison")
    parser.add_argument("--upload-repeat", type=int, default=2, help="CLI runs per mode (best is reported)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the CLI runs")
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"evaluate_{args.rows}_{args.seed}.parquet"
    if not path.exists():
        generate(path, args.rows, args.seed)
    print(
        f"data: {path.relative_to(ROOT)} ({args.rows:,} rows, {len(GROUPS)} groups, {path.stat().st_size / 1e6:.1f} MB)"
    )

    if not args.skip_upload:
        up = upload_run(path, args.upload_repeat, args.bootstrap)
        print(
            f"charter evaluate (CLI, {args.bootstrap} resamples): client-side {up['client_s']:.2f} s"
            f" ({up['computed_by'][0]}) | --upload, server-side {up['upload_s']:.2f} s ({up['computed_by'][1]})"
            f" | ratio upload / client {up['upload_s'] / up['client_s']:.2f}x (target <= 2x)"
            f" | figures {'identical' if up['same_figures'] else 'DIFFERENT'}   (best of {args.upload_repeat})",
            flush=True,
        )
    if args.upload_only:
        return
    ours = charter_run(path, args.repeat)
    compute = ours["fairness_s"] + ours["metrics_s"]
    print(
        f"charter   load {ours['load_s'] * 1e3:8.1f} ms | fairness {ours['fairness_s'] * 1e3:7.1f} ms"
        f" + metrics (incl. ROC AUC, ECE) {ours['metrics_s'] * 1e3:7.1f} ms = {compute * 1e3:7.1f} ms"
        f" | bootstrap {ours['resamples']} resamples {ours['bootstrap_s'] * 1e3:7.1f} ms   (best of {args.repeat})"
    )
    if args.skip_fairlearn:
        return
    peer = fairlearn_run(ensure_venv(), path, args.peer_repeat)
    print(
        f"fairlearn load {peer['load_s'] * 1e3:8.1f} ms | MetricFrame (selection rate, TPR, FPR, accuracy by group)"
        f" {peer['compute_s'] * 1e3:9.1f} ms   (best of {args.peer_repeat})"
    )
    diff = max_difference(ours["by_group"], peer["by_group"])
    print(f"per-group results: max |charter - fairlearn| = {diff:.2e} ({'identical' if diff < 1e-9 else 'DIFFERENT'})")
    print(
        f"ratio fairlearn / charter: same by-group metrics {peer['compute_s'] / ours['fairness_s']:,.0f}x"
        f"; vs charter fairness + overall metrics {peer['compute_s'] / compute:,.0f}x"
        f"; vs charter fairness + metrics + bootstrap {peer['compute_s'] / (compute + ours['bootstrap_s']):,.0f}x"
        f"; load + compute {(peer['load_s'] + peer['compute_s']) / (ours['load_s'] + compute):,.0f}x (target >= 10x)"
    )


if __name__ == "__main__":
    main()
