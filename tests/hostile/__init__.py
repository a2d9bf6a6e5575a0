"""Hostile-input campaigns, one module per surface (gateway, API, dashboard, CLI files, monitoring ingest).

Each module lists attacks as data and asserts the surface refuses them cleanly (4xx problem+json or a CLI exit code,
nothing half-written). To add an attack, add a case to the surface's table; docs/security.md names the module.
"""
