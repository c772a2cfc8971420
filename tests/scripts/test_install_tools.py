"""scripts/install_tools.py: what it would install."""

import json
import re
from pathlib import Path

import pytest

from scripts import install_tools
from tests.support.server import REPO_ROOT
from tests.support.tools import require_tools


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
    """Each command named in a require_tools(...) call comes from a Debian package or a Go
    module that `make tools` installs, so CI (where a missing tool fails the test) has it."""
    required = set()
    for path in [*(REPO_ROOT / "tests").rglob("*.py"), *(REPO_ROOT / "bench").rglob("*.py")]:
        for call in re.findall(r"require_tools\(([^)]*)\)", path.read_text()):
            required.update(re.findall(r'"([a-z0-9-]+)"', call))
    assert {"chromium", "promtool", "buildah", "wrk"} <= required  # the scan finds them
    known = set(install_tools.DEBIAN_COMMANDS) | set(install_tools.GO_TOOLS)
    assert sorted(required - PRESENT_OR_FROM_NPM - known) == []


def test_a_go_tool_missing_from_the_tools_folder_is_built(tmp_path: Path) -> None:
    """No binary: stale, decided without running go (`go` is never called here)."""
    assert install_tools.stale_go_tools(["cosign", "syft"], tmp_path, go="/nonexistent/go") == [
        "cosign",
        "syft",
    ]


@pytest.mark.integration
def test_the_built_tools_are_at_their_pinned_versions() -> None:
    """What `make tools` built is what GO_TOOLS pins, so a warm run builds nothing."""
    tools = require_tools("cosign", "syft")
    go = install_tools.go_command()
    assert go is not None
    for name, path in tools.items():
        assert install_tools.go_module_version(Path(path), go) == install_tools.GO_TOOLS[name][1]
