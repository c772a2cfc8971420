"""Tests mirror the code: the tests of module ``X/Y/Z.py`` of app/, ci/ and harness/ are in
``tests/X/Y/test_Z.py``, so a newcomer finds them by the module's name.

The rule: every module that git tracks has its mirror test file, unless it is pure glue (a few
lines, no branching: wiring, an exception family, enums, a dataclass filled from variables),
listed in GLUE below. A module that is not committed yet is not counted (its author adds the
mirror with it); a GLUE entry that no longer exists is an error, so the list stays true.
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
