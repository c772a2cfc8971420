"""Where the system tools are, and whether this is CI (where a missing tool is an error)."""

import os

# Debian puts some tools the suite drives (debootstrap, nginx) in sbin, not on a user's PATH.
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
