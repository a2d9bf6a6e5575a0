"""`charter demo`: a realistic, fully audited demo world loaded through the domain services."""

from charter.demo.load import DemoResult, Login, already_loaded, load

__all__ = ["DemoResult", "Login", "already_loaded", "load"]
