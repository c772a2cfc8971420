"""Fixtures: a project-shaped source repository, its bare remote, `python -m ci` as users run it."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.git_remotes import SourceRepo, make_bare_remote, make_source_repo
from tests.support.in_process import ci  # noqa: F401  (a fixture: `python -m ci` in-process)


@dataclass
class Remote:
    source: SourceRepo
    bare: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    source = make_source_repo(tmp_path / "source", commits=12)
    bare = make_bare_remote(source.path, tmp_path / "remotes" / "project.git")
    return Remote(source, bare)
