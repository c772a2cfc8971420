"""System tools the integration tests drive: skip on a laptop without them, fail in CI."""

import shutil

import pytest

from harness.tools import SBIN_PATH, in_ci


def require_tools(*commands: str) -> dict[str, str]:
    """Return the full path of each command; skip (laptop) or fail (CI=true) if one is missing."""
    found = {cmd: shutil.which(cmd, path=SBIN_PATH) for cmd in commands}
    missing = sorted(cmd for cmd, path in found.items() if path is None)
    if missing:
        reason = f"missing tools: {', '.join(missing)} (run `make tools` as root)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found
