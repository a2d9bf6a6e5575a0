"""PDF rendering through headless Chromium: a real render, and clear failures when the renderer is absent,
hangs (its whole process group is ended) or writes nothing."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pypdf
import pytest

from charter.reports.pdf import ENV_VAR, PdfRendererUnavailable, PdfRenderFailed, find_chromium, html_to_pdf

NO_CHROMIUM = "headless Chromium not installed (apt-get install chromium, or `make test` installs it)"


@pytest.mark.skipif(find_chromium() is None, reason=NO_CHROMIUM)
def test_renders_text() -> None:
    page = '<!DOCTYPE html><meta charset="utf-8"><h1>Annex IV — Übersicht</h1><p>MISSING</p>'
    data = html_to_pdf(page)
    assert data.startswith(b"%PDF-")
    text = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Annex IV — Übersicht" in text and "MISSING" in text


def test_missing_renderer() -> None:
    assert find_chromium("no-such-chromium-here") is None  # a configured one that is absent: no fallback to PATH
    with pytest.raises(PdfRendererUnavailable, match=f"apt-get install chromium.*{ENV_VAR}"):
        html_to_pdf("<p>x</p>", chromium="no-such-chromium-here")


def fake(tmp_path: Path, body: str) -> str:
    script = tmp_path / "chromium"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_a_hanging_renderer_is_ended(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    exe = fake(tmp_path, f"sleep 60 & echo $! > {pidfile}; wait")
    started = time.monotonic()
    with pytest.raises(PdfRenderFailed, match="did not finish"):
        html_to_pdf("<p>x</p>", chromium=exe, timeout_s=1)
    assert time.monotonic() - started < 15
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{child}").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z"
    assert not alive, "the renderer's helper process outlived the timeout"


def test_a_renderer_that_writes_nothing(tmp_path: Path) -> None:
    exe = fake(tmp_path, "echo 'cannot open display' >&2; exit 3")
    with pytest.raises(PdfRenderFailed, match="exited with 3 without writing a PDF: cannot open display"):
        html_to_pdf("<p>x</p>", chromium=exe)
    assert os.access(exe, os.X_OK)
