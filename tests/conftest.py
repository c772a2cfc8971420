"""The test tiers (docs/development.md, "Test tiers"): a test is unit unless marked.

- unit (no mark, `make unit`): this process only: in-process ASGI and servers on threads, real
  files and real git (a checkout's own prerequisite). No other program is started.
- integration (`make integration`): real servers and tools in their own processes (uvicorn,
  `python -m ci`, nginx, the registry, moto_server, node, promtool, wrk, chromium, git daemon),
  and the long fuzz runs (the unit tier stays under a minute).
- e2e (`make e2e`): the built artifacts end to end: the container image and the GitLab pipeline.

A unit test that starts any program but git fails, naming the program: mark it (or move the work
in-process). The check wraps subprocess.Popen, which os.system aside every spawn here goes through
(asyncio's subprocesses too).
"""

import os
import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from harness.image import private_storage

OUTSIDE_UNIT = ("integration", "e2e", "image")
ALLOWED_IN_UNIT = frozenset({"git"})
# git's own servers are servers all the same.
GIT_SERVERS = frozenset({"daemon", "http-backend"})

_unit_test: pytest.Item | None = None
_spawned: dict[str, list[str]] = {}


def is_unit(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(name) for name in OUTSIDE_UNIT)


def program_of(args: Any) -> list[str]:
    """The command line as a list of strings, whatever form Popen was given it in."""
    if isinstance(args, str | bytes | os.PathLike):
        text = os.fsdecode(args)
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()
    return [os.fsdecode(arg) for arg in args]


def unit_may_run(argv: list[str]) -> bool:
    if not argv or os.path.basename(argv[0]) not in ALLOWED_IN_UNIT:
        return False
    return not GIT_SERVERS & set(argv[1:])


_original_execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]


def _guarded_execute_child(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> Any:
    if _unit_test is not None:
        argv = program_of(args)
        if not unit_may_run(argv):
            _spawned.setdefault(_unit_test.nodeid, []).append(shlex.join(argv[:3]))
            raise UnitTierError(
                f"a unit test started {shlex.join(argv[:3])!r}: mark it "
                "@pytest.mark.integration, or keep the work in this process"
            )
    return _original_execute_child(self, args, *rest, **kwargs)


class UnitTierError(OSError):
    """A unit-tier test tried to start a program (also recorded, so a caught one still fails)."""


subprocess.Popen._execute_child = _guarded_execute_child  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    global _unit_test
    _unit_test = item if is_unit(item) else None
    try:
        return (yield)
    finally:
        _unit_test = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    report = yield
    spawned = _spawned.pop(item.nodeid, None)  # in this phase (setup, call or teardown)
    if spawned and report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = (
            f"unit tier: this test started {', '.join(sorted(set(spawned)))}; "
            "mark it @pytest.mark.integration (tests/conftest.py)"
        )
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first (a stable sort: every xdist worker collects the same order)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session", autouse=True)
def buildah_storage(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Each process that runs image or e2e tests builds in a buildah storage of its own: the
    tier's workers build side by side, and none sees, or removes, another's images."""
    builds = ("image", "e2e")
    if not any(item.get_closest_marker(m) for item in request.session.items for m in builds):
        yield
        return
    with private_storage(tmp_path_factory.mktemp("buildah")):
        yield


FIGURES = "figures"
_figures: list[tuple[str, str]] = []


@pytest.fixture
def figures(record_property: Any) -> Any:
    """``figures(text)``: what the test measured, printed at the end of the run (a test's own
    output is captured, and an xdist worker's never reaches the terminal)."""
    return lambda text: record_property(FIGURES, text)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _figures.extend((report.nodeid, str(v)) for k, v in report.user_properties if k == FIGURES)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _figures:
        terminalreporter.section("figures")
        for nodeid, text in _figures:
            terminalreporter.write_line(f"{nodeid}:{text}")
