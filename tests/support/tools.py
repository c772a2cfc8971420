"""System tools the integration tests drive: skip on a laptop without them, fail in CI.

Looked up on PATH (sbin included) and in the project's tools folder (``$TOOLS_DIR/bin``, default
``.tools/bin``), where ``make tools`` builds the Go tools (cosign, syft)."""

import os
import shutil
from pathlib import Path

import pytest

from harness.tools import SBIN_PATH, in_ci

ROOT = Path(__file__).resolve().parents[2]


def tools_bin() -> Path:
    return Path(os.environ.get("TOOLS_DIR") or ROOT / ".tools") / "bin"


def require_tools(*commands: str) -> dict[str, str]:
    """Return the full path of each command; skip (laptop) or fail (CI=true) if one is missing."""
    path = os.pathsep.join([str(tools_bin()), SBIN_PATH])
    found = {cmd: shutil.which(cmd, path=path) for cmd in commands}
    missing = sorted(cmd for cmd, path in found.items() if path is None)
    if missing:
        reason = f"missing tools: {', '.join(missing)} (run `make tools` as root)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found
