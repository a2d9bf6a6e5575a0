"""Attestations for controls no rule can check (e.g. AI literacy Art. 4, QMS Art. 17, registration Art. 49), and
per-system control status: auto-checked, attested, expired, missing, not applicable (with why)."""
