"""One module of page views per domain."""
