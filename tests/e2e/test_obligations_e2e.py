"""Issue acceptance, end to end: a high-risk deployer system cannot get an active license without a FRIA (Art. 27).

A real `charter serve`; the CLI (`charter license activate`) refuses with exit code 1 naming the missing FRIA and
the command that adds it; `charter document add` (a real process) adds it; the license activates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from charter import bootstrap
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import InitResult
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.settings import Settings
from charter.signoffs.schemas import SignOffCreate
from tests.support.builders import FRIA_SECTIONS, app_key, assessed_model, user
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli, cli_in_process

pytestmark = pytest.mark.e2e
DEPLOYER = {"prohibited": NO_PROHIBITED, "annex_iii": {"point": "5(b)"}, "context": {"role": "deployer"}}


def _approved_license(settings: Settings) -> str:
    """credit@1.0 (Annex III 5(b), deployer), a passing assessment, a license every reviewer approved."""
    c = bootstrap.build(settings)
    try:
        model, _ = assessed_model(c, "credit", answers=DEPLOYER)
        app_key(c, "portal")
        body = {"model": model, "env": "production", "purposes": ["credit"], "callers": ["app:portal"], "days": 30}
        with c.uow() as uow:
            lic = licenses.request(uow, SYSTEM_ACTOR, LicenseCreate.model_validate(body))
        with c.uow(write=False) as uow:
            needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
        for fn in needed:
            reviewer = user(c, f"rev-{fn}", "reviewer", fn)
            with c.uow() as uow:
                licenses.sign(uow, reviewer, lic.id, SignOffCreate(function=fn, decision="approve"))
        with c.uow(write=False) as uow:
            state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
        assert state == "approved", state  # every sign-off is in; the FRIA is not
        return lic.id
    finally:
        c.close()


def test_high_risk_deployer_gets_no_active_license_without_a_fria(
    settings: Settings, initialised: InitResult, tmp_path: Path
) -> None:
    lic = _approved_license(settings)
    env = {**env_for(settings), "COLUMNS": "240"}
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
        refused = cli_in_process(env, "license", "activate", lic)
        assert refused.returncode == 1, (refused.stdout, refused.stderr)
        assert refused.stderr.startswith("error: license_requirements_unmet:")
        assert "fria (Art. 27): none for credit@1.0" in refused.stderr
        assert "charter document add credit@1.0 --kind fria --file FILE" in refused.stderr
        assert "post_market_plan" not in refused.stderr  # a deployer: Art. 72 is the provider's

        fria = tmp_path / "fria.yaml"
        fria.write_text("sections:\n" + "".join(f"  {k}: {v}\n" for k, v in FRIA_SECTIONS.items()))
        added = cli(env, "document", "add", "credit@1.0", "--kind", "fria", "--file", str(fria))  # a real process
        assert added.returncode == 0, added.stderr
        assert "fria revision 1 for credit@1.0" in added.stdout
        ok = cli_in_process(env, "license", "activate", lic, "--json")
        assert ok.returncode == 0, ok.stderr
        assert '"state": "active"' in ok.stdout or '"state":"active"' in ok.stdout
    finally:
        server.stop()
