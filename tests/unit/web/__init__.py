"""Dashboard unit tests."""
