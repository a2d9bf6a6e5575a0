"""charter.guard: license checks and audit entries for in-process models (`@governed(deployment=...)`)."""
