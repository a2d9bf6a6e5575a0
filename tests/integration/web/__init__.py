"""Dashboard pipeline tests (no browser)."""
