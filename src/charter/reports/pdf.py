"""HTML → PDF with headless Chromium's print-to-PDF (Debian `chromium`), in a throwaway profile, time-limited.

The page is written to a private temporary directory and loaded from there; it carries a CSP that forbids every
fetch, so printing never touches the network. Renders run at most `MAX_PARALLEL` at a time (Chromium is heavy).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from charter.core.errors import CharterError, ErrorCode, ErrorKind

ENV_VAR = "CHARTER_CHROMIUM"  # Settings.chromium, as the error message names it
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 90.0
MAX_PARALLEL = 2
_SLOTS = threading.BoundedSemaphore(MAX_PARALLEL)


class PdfRendererUnavailable(CharterError):
    kind = ErrorKind.UNAVAILABLE
    code = ErrorCode.PDF_RENDERER_UNAVAILABLE


class PdfRenderFailed(CharterError):
    kind = ErrorKind.UNAVAILABLE
    code = ErrorCode.PDF_RENDER_FAILED


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium executable: `configured` (Settings.chromium), else the first of CANDIDATES on PATH; None when
    absent."""
    configured = (configured or "").strip()
    if configured:
        found = shutil.which(configured)
        return found if found else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _unavailable() -> PdfRendererUnavailable:
    return PdfRendererUnavailable(
        "no PDF renderer: install Debian's chromium on the server (apt-get install chromium) or point "
        f"{ENV_VAR} at a Chromium executable; the HTML report works without it (--format html)"
    )


def html_to_pdf(html: str, *, chromium: str | None = None, timeout_s: float = TIMEOUT_S) -> bytes:
    """Print `html` to PDF bytes with `chromium` (a name or path; None: look on PATH); PdfRendererUnavailable
    without Chromium, PdfRenderFailed when printing fails."""
    exe = find_chromium(chromium)
    if exe is None:
        raise _unavailable()
    with _SLOTS, tempfile.TemporaryDirectory(prefix="charter-pdf-") as tmp:
        root = Path(tmp)
        page = root / "report.html"
        out = root / "report.pdf"
        page.write_text(html, encoding="utf-8")
        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
            f"--user-data-dir={root / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        env = {**os.environ, "HOME": str(root)}
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # so a timeout can end Chromium's helper processes too
            )
        except OSError as exc:
            raise PdfRendererUnavailable(f"cannot start {exe}: {exc.strerror or exc}") from None
        try:
            _, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise PdfRenderFailed(f"Chromium did not finish printing within {timeout_s:.0f} s") from None
        finally:
            _kill(proc)
        data = out.read_bytes() if out.is_file() else b""
        if not data.startswith(b"%PDF-"):
            last = stderr.decode(errors="replace").strip().splitlines()[-1:] if stderr else []
            raise PdfRenderFailed(
                f"Chromium exited with {proc.returncode} without writing a PDF" + (f": {last[0][:300]}" if last else "")
            )
        return data


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """End the process group Chromium started (its zygote and renderers), if anything is left of it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)
