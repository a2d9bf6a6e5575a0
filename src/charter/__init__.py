"""Charter: AI governance licensing."""

__version__ = "0.1.0"
