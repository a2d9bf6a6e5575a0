"""Names inside an evidence pack, shared by the writer and the offline verifier."""

from __future__ import annotations

FORMAT = "charter-evidence-pack"
MANIFEST = "MANIFEST.json"
README = "README.txt"
AUDIT_EXPORT = "audit/export.jsonl"
CHECKPOINT = "audit/checkpoint.txt"
VERIFIER_KEY = "audit/verifier-key.txt"
JWKS = "licenses/jwks.json"
ANCHOR_ACTION = "report.pack"
