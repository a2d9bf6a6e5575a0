"""Drift monitoring: Charter vs Evidently's DataDriftPreset on the same Parquet files, plus a long streamed ingest.

    python bench/drift.py                      # 1M vs 1M rows × 25 columns, Evidently, 10M-row ingest
    python bench/drift.py --rows 100000 --ingest-rows 1000000 --skip-evidently

Data: 20 numeric + 5 categorical columns (plus a prediction, a label and a record id for the ingest run), drift
injected in `num_05` (+0.5 σ) and `cat_1` (category shares reshuffled), written to bench/.data/ in chunks. Each
contender runs in its own subprocess so its peak RSS (ru_maxrss) is its own. Evidently 0.7.23 goes into the throwaway
venv bench/.venvs/evidently with `pandas<3` (0.7.23 imports `infer_dtype_from_object`, gone in pandas 3).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV = HERE / ".venvs" / "evidently"
EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
FEATURES = NUMERIC + CATEGORICAL
DRIFTED = ("num_05", "cat_1")
CHUNK = 1_000_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process so far (user + system, all threads); workers report the delta over the measured
    section (imports excluded), which is steadier than wall time on a shared machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --- data --------------------------------------------------------------------------------------------------------


def _chunk(rows: int, seed: int, offset: int, drift: bool) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        kind = i % 5
        if kind == 0:
            v = rng.normal(10 * i, 1 + i, rows)
        elif kind == 1:
            v = rng.lognormal(0, 0.5 + i / 40, rows)
        elif kind == 2:
            v = rng.exponential(1 + i, rows)
        elif kind == 3:
            v = rng.integers(0, 5 + i, rows).astype(np.float64)
        else:
            v = rng.uniform(-i, i, rows)
        if drift and name == DRIFTED[0]:
            v = v + 0.5 * (1 + i)
        cols[name] = v
    for i, name in enumerate(CATEGORICAL):
        k = (3, 8, 20, 50, 200)[i]
        w = 1.0 / np.arange(1, k + 1)
        if drift and name == DRIFTED[1]:
            w = w[::-1]
        cats = np.array([f"{name}_v{j}" for j in range(k)])
        cols[name] = pa.array(cats[rng.choice(k, rows, p=w / w.sum())])
    score = (cols["num_00"] - 0.0) / 1.0 + 0.5 * (cols["num_01"] - 1.0)
    pred = 1.0 / (1.0 + np.exp(-score))
    cols["pred"] = pred
    cols["y"] = (rng.random(rows) < pred).astype(np.int8)
    cols["id"] = np.arange(offset, offset + rows, dtype=np.int64)
    return pa.table(cols)


def generate(path: Path, rows: int, seed: int, drift: bool) -> Path:
    """Write `rows` synthetic rows to Parquet in 1M-row chunks (never the whole table in memory)."""
    import pyarrow.parquet as pq

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    for n, offset in enumerate(range(0, rows, CHUNK)):
        table = _chunk(min(CHUNK, rows - offset), seed * 1_000 + n, offset, drift)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=256 * 1024)
    assert writer is not None
    writer.close()
    tmp.replace(path)
    return path


def labels_file(stream: Path) -> Path:
    """id + y of every second record, shuffled, as a separate late-labels file."""
    import numpy as np
    import pyarrow.parquet as pq

    path = stream.with_name(stream.stem + "_labels.parquet")
    if path.exists():
        return path
    table = pq.read_table(stream, columns=["id", "y"])
    table = table.filter(np.arange(table.num_rows) % 2 == 0)
    table = table.take(np.random.default_rng(0).permutation(table.num_rows))
    pq.write_table(table, path, row_group_size=256 * 1024)
    return path


# --- workers (each runs in its own process) ------------------------------------------------------------------------


def worker_charter(ref: Path, cur: Path) -> dict[str, Any]:
    from charter.monitoring import ProfileSpec, window_metrics
    from charter.monitoring.ingest import profile_file, sketch_file

    spec = ProfileSpec(numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL))
    c0, t0 = cpu_s(), time.perf_counter()
    profile = profile_file(ref, spec)
    t1 = time.perf_counter()
    window = sketch_file(profile, cur)
    t2 = time.perf_counter()
    metrics = window_metrics(profile, window)
    t3 = time.perf_counter()
    values = metrics.values
    return {
        "seconds": t3 - t0,
        "cpu_s": cpu_s() - c0,
        "profile_s": t1 - t0,
        "sketch_s": t2 - t1,
        "metrics_s": t3 - t2,
        "peak_rss_mb": peak_rss_mb(),
        "drifted": sorted(f.feature for f in metrics.drift.features if f.status == "breach"),
        "warned": sorted(f.feature for f in metrics.drift.features if f.status == "warn"),
        "values": {f"{n}": values.get(f"drift.wasserstein[{n}]") or values.get(f"drift.js[{n}]") for n in DRIFTED},
    }


def worker_evidently(ref: Path, cur: Path) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    c0, t0 = cpu_s(), time.perf_counter()
    reference = pd.read_parquet(ref, columns=FEATURES)
    current = pd.read_parquet(cur, columns=FEATURES)
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    t1 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    t2 = time.perf_counter()
    drifted, values = [], {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            column, value = config["column"], float(metric["value"])
            if value >= float(config["threshold"]):
                drifted.append(column)
            if column in DRIFTED:
                values[column] = value
    return {
        "seconds": t2 - t0,
        "cpu_s": cpu_s() - c0,
        "read_s": t1 - t0,
        "report_s": t2 - t1,
        "peak_rss_mb": peak_rss_mb(),
        "drifted": sorted(drifted),
        "values": values,
    }


def worker_ingest(ref: Path, stream: Path, labels: Path | None) -> dict[str, Any]:
    from charter.monitoring import ProfileSpec, window_metrics
    from charter.monitoring.ingest import LateLabels, profile_file, sketch_file

    spec = ProfileSpec(
        numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL), prediction="pred", label="y", sensitive=("cat_0",)
    )
    profile = profile_file(ref, spec)
    rss_profile = peak_rss_mb()
    c0, t0 = cpu_s(), time.perf_counter()
    late = None if labels is None else LateLabels(labels, "id", "y")
    seen: list[tuple[int, int | None]] = [(0, None)]

    def progress(done: int, total: int | None) -> None:
        seen[0] = (done, total)

    window = sketch_file(profile, stream, labels=late, progress=progress)
    seconds = time.perf_counter() - t0
    values = window_metrics(profile, window).values
    return {
        "rows": window.rows,
        "seconds": seconds,
        "rows_per_s": window.rows / seconds,
        "cpu_s": cpu_s() - c0,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_after_profile_mb": rss_profile,
        "progress": seen[0],
        "labelled": values.get("window.labelled_rows"),
        "accuracy": values.get("perf.accuracy"),
    }


# --- orchestration -----------------------------------------------------------------------------------------------


def run_worker(python: str, *args: str, timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ensure_evidently() -> str:
    """Python of the throwaway Evidently venv, created and filled on first use."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently, sys; sys.exit(evidently.__version__ != '0.7.23')"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return str(python)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *EVIDENTLY], capture_output=True, text=True, check=False
    )
    if pip.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(EVIDENTLY)} failed:\n{pip.stderr[-2000:]}")
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the reference and in the window")
    parser.add_argument("--ingest-rows", type=int, default=10_000_000, help="rows of the streamed ingest (0 = skip)")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-labels", action="store_true", help="skip the late-label join run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per contender")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *paths = args.worker
        if kind == "charter":
            out = worker_charter(Path(paths[0]), Path(paths[1]))
        elif kind == "evidently":
            out = worker_evidently(Path(paths[0]), Path(paths[1]))
        else:
            out = worker_ingest(Path(paths[0]), Path(paths[1]), Path(paths[2]) if len(paths) > 2 else None)
        print(json.dumps(out))
        return

    t = time.perf_counter()
    ref = generate(DATA / f"reference_{args.rows}.parquet", args.rows, seed=1, drift=False)
    cur = generate(DATA / f"current_{args.rows}.parquet", args.rows, seed=2, drift=True)
    print(
        f"data: {args.rows:,} reference + {args.rows:,} current rows × {len(FEATURES)} columns "
        f"(drift in {', '.join(DRIFTED)}) ready in {time.perf_counter() - t:.1f} s"
    )

    charter = run_worker(sys.executable, "charter", str(ref), str(cur), timeout=args.timeout)
    print(
        f"Charter   profile+sketch+metrics: {charter['seconds']:7.2f} s  peak RSS {charter['peak_rss_mb']:7.0f} MB"
        f"  CPU {charter['cpu_s']:.1f} s  (profile {charter['profile_s']:.2f} s, "
        f"streamed sketch {charter['sketch_s']:.2f} s, metrics {charter['metrics_s'] * 1000:.0f} ms)"
    )
    print(f"          breach: {charter['drifted']}  warn: {charter['warned']}  W/σ|JS: {charter['values']}")
    if not args.skip_evidently:
        try:
            t = time.perf_counter()
            python = ensure_evidently()
            print(f"Evidently venv ready in {time.perf_counter() - t:.1f} s ({VENV})")
            ev = run_worker(python, "evidently", str(ref), str(cur), timeout=args.timeout)
            print(
                f"Evidently DataDriftPreset:        {ev['seconds']:7.2f} s  peak RSS {ev['peak_rss_mb']:7.0f} MB"
                f"  CPU {ev['cpu_s']:.1f} s  (read {ev['read_s']:.2f} s, report {ev['report_s']:.2f} s)"
            )
            print(f"          drifted: {ev['drifted']}  values: {ev['values']}")
            print(
                f"ratio: Charter is {ev['seconds'] / charter['seconds']:.1f}× faster by wall time, "
                f"{ev['cpu_s'] / charter['cpu_s']:.1f}× by CPU time (target ≥ 10×), "
                f"{ev['peak_rss_mb'] / charter['peak_rss_mb']:.1f}× less peak memory"
            )
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"Evidently: not measured — {exc}")

    if args.ingest_rows:
        t = time.perf_counter()
        stream = generate(DATA / f"stream_{args.ingest_rows}.parquet", args.ingest_rows, seed=3, drift=True)
        print(f"stream: {args.ingest_rows:,} rows generated in chunks in {time.perf_counter() - t:.1f} s")
        runs = (
            [("streamed ingest", [])]
            if args.skip_labels
            else [("streamed ingest", []), ("+ late labels join (50%)", [str(labels_file(stream))])]
        )
        for title, extra in runs:
            r = run_worker(sys.executable, "ingest", str(ref), str(stream), *extra, timeout=args.timeout)
            print(
                f"Charter {title}: {r['rows']:,} rows in {r['seconds']:.1f} s ({r['rows_per_s'] / 1e6:.2f} M rows/s)"
                f"  CPU {r['cpu_s']:.1f} s  peak RSS {r['peak_rss_mb']:.0f} MB (after profiling the reference: "
                f"{r['peak_rss_after_profile_mb']:.0f} MB; target ≤ 1024)  labelled {r['labelled']}"
            )


if __name__ == "__main__":
    main()
