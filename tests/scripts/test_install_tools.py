"""scripts/install_tools.py: what it would install."""

import json
import re
from pathlib import Path

from scripts import install_tools
from tests.support.server import REPO_ROOT


def test_npm_packages_missing_from_node_modules_are_installed(tmp_path: Path) -> None:
    """A package added to package.json is installed on a machine that already has the others."""
    dependencies = {"@scope/present": "1.0.0", "@scope/added": "2.0.0", "plain": "3.0.0"}
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": dependencies}))
    present = tmp_path / "node_modules" / "@scope" / "present"
    present.mkdir(parents=True)
    (present / "package.json").write_text("{}")
    (tmp_path / "node_modules" / "plain").mkdir()  # a folder without package.json: not installed
    assert install_tools.missing_npm_packages(tmp_path) == ["@scope/added", "plain"]


# Commands every Debian machine has (git, util-linux), and the npm tool package.json installs.
PRESENT_OR_FROM_NPM = {"git", "unshare", "gitlab-ci-local"}


def test_make_tools_installs_every_command_the_tests_require() -> None:
    """Each command named in a require_tools(...) call comes from a Debian package that
    `make tools` installs, so CI (where a missing tool fails the test) has it."""
    required = set()
    for path in [*(REPO_ROOT / "tests").rglob("*.py"), *(REPO_ROOT / "bench").rglob("*.py")]:
        for call in re.findall(r"require_tools\(([^)]*)\)", path.read_text()):
            required.update(re.findall(r'"([a-z0-9-]+)"', call))
    assert {"chromium", "promtool", "buildah", "wrk"} <= required  # the scan finds them
    assert sorted(required - PRESENT_OR_FROM_NPM - set(install_tools.DEBIAN_COMMANDS)) == []
