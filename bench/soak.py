"""Soak: the reliability scenarios of tests/reliability/, longer and bigger, run by hand.

    .venv/bin/python bench/soak.py [--scenario NAME ...] [--kills 20] [--revocations 5] [--mutations 5000]
                                   [--concurrency 8] [--outage-s 3] [--grace-s 4] [--fuzz-examples 20]
                                   [--pg-url URL | --no-pg] [--seed N]

Scenarios: crash (SIGKILL of `charter serve` / `charter gateway` under load, --kills times), outage-sqlite (write
lock held elsewhere, then a full disk), outage-pg (lost privileges → degraded grace → fail closed; then
pg_terminate_backend in a loop), revocation (two gateways on one PostgreSQL schema, --revocations licenses revoked
under load), tamper (--mutations random rewrites of a stored log), attacks (metadata forgeries, hostile bodies and
files, access control: the bounded tests, run as they are), fuzz (schemathesis with --fuzz-examples per operation).

Per scenario it prints the load held, the faults injected, the inputs tried, and the entries lost (must be 0). The
exit status is 1 if any scenario failed its guarantees. The shared PostgreSQL server is never stopped: its outages
are simulated on a throwaway schema and role.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SCENARIOS = ("crash", "outage-sqlite", "outage-pg", "revocation", "tamper", "attacks", "fuzz")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", action="append", choices=SCENARIOS, help="Repeatable; default: all.")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs in the crash scenario.")
    p.add_argument("--revocations", type=int, default=5, help="Licenses revoked under load.")
    p.add_argument("--mutations", type=int, default=5000, help="Random rewrites of the stored log.")
    p.add_argument("--concurrency", type=int, default=8, help="Concurrent callers of the load generator.")
    p.add_argument("--outage-s", type=float, default=3.0, help="How long each SQLite fault lasts.")
    p.add_argument("--grace-s", type=int, default=4, help="Degraded grace of the PostgreSQL gateway.")
    p.add_argument("--fuzz-examples", type=int, default=20, help="Schemathesis examples per operation (admin).")
    p.add_argument("--pg-url", default=os.environ.get("CHARTER_TEST_POSTGRES_URL", PG_DEFAULT))
    p.add_argument("--no-pg", action="store_true", help="Skip the PostgreSQL scenarios.")
    p.add_argument("--seed", type=int, default=int(time.time()))
    return p.parse_args()


def _print(name: str, ok: bool, seconds: float, figures: dict[str, Any]) -> None:
    print(f"\n== {name}: {'OK' if ok else 'FAILED'} in {seconds:.1f}s")
    for key in ("load", "faults", "inputs", "lost"):
        if key in figures:
            print(f"   {key:<7} {figures[key]}")
    for key, value in figures.items():
        if key not in ("load", "faults", "inputs", "lost"):
            print(f"   {key}: {value}")
    sys.stdout.flush()


def _run(name: str, fn: Callable[[Path], dict[str, Any]]) -> bool:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"charter-soak-{name}-") as tmp:
        try:
            figures = fn(Path(tmp))
            ok = figures.get("lost", 0) == 0
        except Exception as exc:  # a broken guarantee (AssertionError) or a crash of the harness
            figures = {"error": f"{type(exc).__name__}: {str(exc)[:2000]}", "trace": traceback.format_exc(limit=3)}
            ok = False
    _print(name, ok, time.monotonic() - started, figures)
    return ok


# --- scenarios ---------------------------------------------------------------------------------------------------
def crash(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        from tests.reliability.test_crash_sigkill import run_crashes

        from charter.settings import Settings

        f = run_crashes(Settings(home=tmp / "home"), tmp, kills=a.kills, seed=a.seed, concurrency=a.concurrency)
        return {
            "load": f"{f['answered']} calls answered ({f['allowed']} allowed) on serve + gateway, "
            f"{f['governance_acked']} governance changes acknowledged of {f['governance_tried']} tried",
            "faults": f"{f['kills']} SIGKILLs (serve and gateway in turn), {f['connection_failures']} calls cut",
            "inputs": f"log verified: {f['log_size']} entries, {f['checkpoints']} checkpoints",
            "lost": f["entries_lost"],
        }

    return run


def outage_sqlite(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        from tests.reliability.test_db_outage import run_sqlite_outage, small_disk

        with small_disk() as disk:
            home = (disk or tmp) / "home"
            f = run_sqlite_outage(home, tmp, disk=disk, hold_s=a.outage_s, full_s=a.outage_s)
        faults = f"write lock held {a.outage_s}s by another process ({f['stalled_by_lock']} calls waited)"
        if "refused_while_disk_full" in f:
            faults += f"; disk full {a.outage_s}s ({f['refused_while_disk_full']} calls refused 503)"
        else:
            faults += "; disk-full fault skipped (no tmpfs mount: not root)"
        return {
            "load": f"{f['answered']} calls answered (high-risk and minimal deployments)",
            "faults": faults,
            "inputs": f"recovery after lock {f['recovery_after_lock_s']}s, "
            f"after disk full {f.get('recovery_after_disk_full_s', '-')}s",
            "lost": f["entries_lost"],
        }

    return run


def outage_pg(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        from tests.reliability.test_db_outage import run_pg_outage

        f = run_pg_outage(tmp, grace_s=a.grace_s, terminate_s=a.outage_s)
        return {
            "load": f"{f['answered']} calls answered on a gateway under its own role",
            "faults": f"license tables revoked {a.grace_s + 2}s: high-risk refused {f['high_refused_in_outage']}, "
            f"minimal served degraded {f['low_served_degraded']} then refused {f['low_refused_after_grace']}; "
            f"{f['backends_terminated']} backends terminated over {a.outage_s}s "
            f"({f['refused_while_terminating']} of {f['answered_while_terminating']} calls refused)",
            "inputs": f"recovery after GRANT {f['recovery_after_grant_s']}s, "
            f"after terminations {f['recovery_after_terminations_s']}s",
            "lost": f["entries_lost"],
        }

    return run


def revocation(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        from tests.reliability.test_revocation_race import run_revocation
        from tests.support.db import pg_schema, pg_sqlalchemy_url

        from charter.settings import Settings

        with pg_schema() as schema:
            settings = Settings(home=tmp / "home", database_url=pg_sqlalchemy_url(), database_schema=schema)
            f = run_revocation(settings, tmp, rounds=a.revocations, concurrency=a.concurrency)
        return {
            "load": f"{f['answered']} calls answered on two gateways",
            "faults": f"{f['revocations']} revocations under load; last allowed call sent "
            f"{f['max_allow_lag_s']}s after the revoke was acknowledged (bound 1 s)",
            "inputs": f"{f['allows_after_entry']} allows ordered after their revocation's audit entry",
            "lost": f["late_allows"] + f["allows_after_entry"],
        }

    return run


def tamper(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        from tests.reliability.test_tamper_campaign import build_template, campaign

        log, notes = build_template()
        try:
            result = campaign(log, notes, a.mutations, a.seed, tmp)
        finally:
            log.close()
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.counts.items()))
        return {
            "load": f"a {log.size}-entry log with signed checkpoints, one fresh copy per mutation",
            "faults": f"{sum(result.counts.values())} rewrites: {kinds}",
            "inputs": f"undetected {len(result.missed)}, detected but not located at the first bad entry "
            f"{len(result.mislocated)}",
            "lost": len(result.missed) + len(result.mislocated),
        }

    return run


def _pytest(files: list[str], env: dict[str, str], tmp: Path) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--timeout", "3600", *files]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    (tmp / "pytest.log").write_text(r.stdout + r.stderr)
    return r.returncode, r.stdout + r.stderr


def attacks(_: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        files = [
            "tests/reliability/test_metadata_attacks.py",
            "tests/reliability/test_hostile_input.py",
            "tests/reliability/test_access.py",
        ]
        code, out = _pytest(files, {}, tmp)
        summary = (re.findall(r"^=*\s*(\d+ passed.*?)\s*=*$", out, re.M) or [out.strip().splitlines()[-1]])[-1]
        return {
            "load": "forged tokens and status lists, hostile bodies and files, scoped grants, concurrent sign-offs",
            "faults": "27 metadata forgeries and replays (verifier, CLI, SDK, gateway); oversize, deep and "
            "invalid-UTF-8 bodies, gzip and zip bombs, traversal, broken Parquet/CSV; secrets grep of server and "
            "audit logs",
            "inputs": summary,
            "lost": 0 if code == 0 else f"FAILED (see {tmp}/pytest.log)\n" + out[-3000:],
        }

    return run


def fuzz(a: argparse.Namespace) -> Callable[[Path], dict[str, Any]]:
    def run(tmp: Path) -> dict[str, Any]:
        code, out = _pytest(
            ["tests/reliability/test_api_fuzz.py"], {"CHARTER_FUZZ_EXAMPLES": str(a.fuzz_examples)}, tmp
        )
        found = re.search(r"FUZZ operations=(\d+) identities=(\d+) calls=(\d+) failures=(\d+)", out)
        ops, who, calls, failures = found.groups() if found else ("?", "?", "?", "?")
        return {
            "load": f"{ops} operations × {who} identities (every role, a scoped grant, anonymous, a bad key)",
            "faults": "schemathesis-generated valid and invalid requests",
            "inputs": f"{calls} requests; {failures} failed checks (5xx, response schema, content type)",
            "lost": 0 if code == 0 else out[-3000:],
        }

    return run


def main() -> int:
    a = _args()
    if a.no_pg:
        os.environ.pop("CHARTER_TEST_POSTGRES_URL", None)
    else:
        os.environ["CHARTER_TEST_POSTGRES_URL"] = a.pg_url
    sys.path.insert(0, str(ROOT))
    chosen = a.scenario or list(SCENARIOS)
    if a.no_pg:
        chosen = [s for s in chosen if s not in ("outage-pg", "revocation")]
    table = {
        "crash": crash,
        "outage-sqlite": outage_sqlite,
        "outage-pg": outage_pg,
        "revocation": revocation,
        "tamper": tamper,
        "attacks": attacks,
        "fuzz": fuzz,
    }
    print(f"Charter soak: {', '.join(chosen)} (seed {a.seed}, {os.cpu_count()} CPUs)")
    results = {name: _run(name, table[name](a)) for name in chosen}
    print("\n" + " ".join(f"{n}={'ok' if ok else 'FAILED'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
