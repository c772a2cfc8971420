"""Headless Chromium (Debian's `chromium`) for the tests: a page's DOM after its scripts ran, or a
picture of it.

The browser may reach 127.0.0.1 only: every other host name fails to resolve, so a page that
needs a CDN renders blank here even on a machine with internet access.
"""

import struct
import subprocess
import tempfile
from pathlib import Path

from tests.support.tools import require_tools

# Scripts get this much virtual time to render before the DOM is taken (Chromium fast-forwards
# timers, so an idle page returns sooner).
VIRTUAL_TIME_MS = 8000
WINDOW_SIZE = (1280, 900)
_OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run_chromium(url: str, *args: str, timeout: float = 60.0) -> str:
    chromium = require_tools("chromium")["chromium"]
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # root in a container: no user namespaces for the sandbox
            "--disable-gpu",
            "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm; use /tmp
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            _OFFLINE,
            f"--virtual-time-budget={VIRTUAL_TIME_MS}",
            *args,
            url,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode} on {url}:\n{result.stderr}")
    return result.stdout


def dump_dom(url: str) -> str:
    """The page's DOM as HTML once its scripts have run."""
    return _run_chromium(url, "--dump-dom")


def screenshot(url: str, target: Path) -> Path:
    """A PNG of the page in a WINDOW_SIZE window, written to `target`."""
    width, height = WINDOW_SIZE
    _run_chromium(url, f"--screenshot={target}", f"--window-size={width},{height}")
    if not target.is_file():
        raise RuntimeError(f"chromium wrote no screenshot of {url}")
    return target


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file; ValueError if it is not one."""
    head = path.read_bytes()[:24]
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height
