"""``python -m ci ARGS`` through ``ci.cli.main`` in this process, for the unit tier (which starts
no program but git) and without an interpreter's start per call: the same clean environment as
``tests.support.cli.run_ci`` (no pipeline variables of the shell that runs the tests), a working
directory, and the exit code and output a user would see."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci.cli import main
from tests.support.cli import STRIPPED_PREFIXES


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class InProcess:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Result:
        with self.monkeypatch.context() as patch:
            for name in list(os.environ):
                if name.startswith(STRIPPED_PREFIXES):
                    patch.delenv(name)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            if cwd is not None:
                patch.chdir(cwd)
            self.capsys.readouterr()
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse's usage errors
                code = stop.code if isinstance(stop.code, int) else 2
            out = self.capsys.readouterr()
        return Result(code, out.out, out.err)


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(monkeypatch, capsys)
