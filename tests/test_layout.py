"""Tests mirror the code: the tests of module ``X/Y/Z.py`` of app/, ci/ and harness/ are in
``tests/X/Y/test_Z.py``, so a newcomer finds them by the module's name.

The rule: every module that git tracks has its mirror test file, unless it is pure glue (a few
lines, no branching: wiring, an exception family, enums, a dataclass filled from variables),
listed in GLUE below. A module that is not committed yet is not counted (its author adds the
mirror with it); a GLUE entry that no longer exists is an error, so the list stays true.

And the other way: every test file ``tests/X/Y/test_Z.py`` under tests/app, tests/ci and
tests/harness mirrors a module ``X/Y/Z.py`` (a scenario of a command goes in the command's file),
unless NOT_MIRRORS lists it with its reason; an entry that is gone or mirrors a module is an error.
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "ci", "harness")
GLUE = {
    "app/context.py",
    "app/main.py",
    "ci/errors.py",
    "ci/gitlab.py",
    "ci/gitops/plans/action.py",
    "ci/project.py",
    "harness/tools.py",
}
# Test files that legitimately mirror no module: contracts, fuzz, and the real server or
# several commands end to end.
NOT_MIRRORS = {
    "tests/app/test_docs_browser.py",  # /docs and /redoc of the running service in Chromium
    "tests/app/test_fuzz.py",  # schema-driven fuzz of the whole OpenAPI surface, real server
    "tests/app/test_observability_server.py",  # metrics, ids, tracing on a real uvicorn
    "tests/app/test_public_apis.py",  # contract: app/ uses its libraries' public APIs only
    "tests/app/test_server.py",  # the service under a real uvicorn, the production flags
    # deploy --verify-image and ci.registry against a real registry; test_check and
    # tests/e2e import its registry helpers (they would move to tests/support first)
    "tests/ci/gitops/test_verify_image.py",
    "tests/ci/wait/test_recordings_schema.py",  # contract: the recordings fit Argo CD's CRD
    "tests/ci/wait/test_signals.py",  # SIGTERM during two commands, wait and wait-changed
}


def tracked_modules() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *(f"{package}/*.py" for package in PACKAGES)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(
        path
        for path in listed.split("\0")
        if path and Path(path).name not in ("__init__.py", "__main__.py")
    )


def mirror(module: str) -> Path:
    path = Path(module)
    return ROOT / "tests" / path.parent / f"test_{path.name}"


def test_every_module_with_logic_has_its_mirror_test_file():
    missing = [
        f"{module}: no {mirror(module).relative_to(ROOT)}"
        for module in tracked_modules()
        if module not in GLUE and not mirror(module).is_file()
    ]
    assert missing == []


def test_the_glue_list_names_only_modules_that_exist():
    assert sorted(GLUE - set(tracked_modules())) == []


def package_tests() -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / "tests" / package).rglob("test_*.py")
    )


def mirrored(test_file: str) -> Path:
    """The module ``tests/X/Y/test_Z.py`` mirrors: ``X/Y/Z.py``."""
    path = Path(test_file).relative_to("tests")
    return ROOT / path.parent / path.name.removeprefix("test_")


def test_every_test_file_mirrors_a_module():
    strays = [
        f"{test}: no {mirrored(test).relative_to(ROOT)}"
        for test in package_tests()
        if test not in NOT_MIRRORS and not mirrored(test).is_file()
    ]
    assert strays == []


def test_the_not_mirrors_list_names_only_test_files_that_mirror_nothing():
    needless = [
        test for test in NOT_MIRRORS if not (ROOT / test).is_file() or mirrored(test).is_file()
    ]
    assert sorted(needless) == []
