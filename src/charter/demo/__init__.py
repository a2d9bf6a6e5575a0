"""`charter demo`: a realistic, fully audited demo world loaded through the domain services."""

from charter.demo.load import load, new_logins
from charter.demo.loader import DemoResult, Login, already_loaded

__all__ = ["DemoResult", "Login", "already_loaded", "load", "new_logins"]
