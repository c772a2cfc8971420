"""Fixtures: a project-shaped source repository, its bare remote, `python -m ci` as users run it."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.git_remotes import SourceRepo, make_bare_remote, make_source_repo

ROOT = Path(__file__).resolve().parents[3]
# Variables that would change what the CLI does: the tests set what they need explicitly.
STRIPPED_PREFIXES = ("CI_", "GITLAB_", "GITOPS_", "IMAGE_", "REGISTRY_", "GIT_")


@dataclass
class Remote:
    source: SourceRepo
    bare: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()


def ci_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run_ci(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
):
    """Run ``python -m ci ARGS`` (from the repository root by default); return the process."""
    return subprocess.run(
        [sys.executable, "-m", "ci", *args],
        cwd=cwd or ROOT,
        env=ci_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_ci(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ci", *args],
        cwd=ROOT,
        env=ci_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    source = make_source_repo(tmp_path / "source", commits=12)
    bare = make_bare_remote(source.path, tmp_path / "remotes" / "project.git")
    return Remote(source, bare)
