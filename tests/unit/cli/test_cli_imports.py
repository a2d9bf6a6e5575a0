"""The CLI's client commands start fast: building the command tree loads no database, numeric or server stack.

Every `charter` invocation pays for what `charter.cli.main` imports; the commands that need the database
(`init`, `migrate`, `demo`, `audit verify`) or numbers (`evaluate`, `monitor`) import it when they run.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "psycopg", "numpy", "scipy", "pyarrow", "fastapi", "starlette", "uvicorn", "aiohttp")

PROBE = """
import json, sys
import charter.cli.main as m
m.build_app()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_building_the_cli_imports_no_heavy_stack() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
