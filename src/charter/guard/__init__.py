"""charter.guard: license checks and audit entries for in-process models (`@governed(deployment=...)`)."""

from charter.guard.capture import Capture
from charter.guard.core import Guard, governed, payload_digest
from charter.guard.model import Decision, LicenseDenied, LicenseWarning, Mode
from charter.guard.offline import OfflineVerifier

__all__ = [
    "Capture",
    "Decision",
    "Guard",
    "LicenseDenied",
    "LicenseWarning",
    "Mode",
    "OfflineVerifier",
    "governed",
    "payload_digest",
]
