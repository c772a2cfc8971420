"""`make rename` on a copy of this checkout: nothing keeps the old name, the chart renders under
the new one, and the copy's tests that read the name pass."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts import rename
from tests.scripts.test_rename import NEW, OLD
from tests.support.server import REPO_ROOT

pytestmark = pytest.mark.integration

# Tracked files that may still spell the old name after a rename (on purpose): none.
KEEPS_OLD_NAME: frozenset[str] = frozenset()


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def copy_checkout(dest: Path) -> None:
    """The tracked files as they are in the working tree, committed in a new repository, sharing
    this checkout's virtualenv."""
    for rel in filter(None, git("ls-files", "-z", cwd=REPO_ROOT).split("\0")):
        src = REPO_ROOT / rel
        if src.is_symlink() or not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
        target.chmod(src.stat().st_mode)
    git("init", "--quiet", cwd=dest)
    git("add", "--all", cwd=dest)
    git("-c", "user.name=T", "-c", "user.email=t@t", "commit", "-qm", "copy", cwd=dest)
    (dest / ".venv").symlink_to(Path(sys.prefix))


def run(copy: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    copy = tmp_path_factory.mktemp("rename") / "checkout"
    copy_checkout(copy)
    done = run(copy, "scripts/rename.py", NEW.name, "--gitlab-url", NEW.url + ".git")
    assert done.returncode == 0, done.stderr
    return copy, done.stdout


def tracked_texts(copy: Path) -> dict[str, str]:
    return rename.tracked_texts(copy)


def test_the_rename_says_what_changed(renamed):
    copy, stdout = renamed
    lines = stdout.splitlines()
    assert lines[:2] == [f"{OLD.name} -> orders", f"{OLD.url} -> {NEW.url}"]
    for path in ["helm-chart/Chart.yaml", "gitops/argocd/applicationset.yaml", ".gitlab-ci.yml"]:
        assert any(line.startswith(f"  {path}: ") for line in lines), path
    changed = set(git("diff", "--name-only", cwd=copy).split())
    assert {line.split(":")[0].strip() for line in lines[2:-1]} == changed
    assert lines[-1].endswith(f"in {len(changed)} file(s); review with git diff")


def test_no_tracked_file_keeps_the_old_name_or_url(renamed):
    copy, _ = renamed
    texts = tracked_texts(copy)
    assert len(texts) > 100
    left = sorted(p for p, text in texts.items() if OLD.name in text or OLD.url in text)
    assert sorted(set(left) - KEEPS_OLD_NAME) == []
    assert 'SERVICE_NAME = "orders"' in texts[rename.NAME_HOME]


def test_a_second_run_changes_nothing_and_a_dirty_tree_is_refused(renamed):
    copy, _ = renamed
    again = run(copy, "scripts/rename.py", "other", "--gitlab-url", NEW.url)
    assert (again.returncode, again.stdout) == (1, "")
    assert "uncommitted changes" in again.stderr
    same = run(copy, "scripts/rename.py", NEW.name, "--gitlab-url", NEW.url, "--force")
    assert same.returncode == 0, same.stderr
    assert same.stdout == f"nothing to change: the service is orders at {NEW.url}\n"
    bad = run(copy, "scripts/rename.py", "Bad_Name", "--force")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("error: NAME 'Bad_Name' is not a DNS-1123 label")
    assert 'SERVICE_NAME = "orders"' in (copy / rename.NAME_HOME).read_text()


def test_the_renamed_chart_renders_with_the_new_name(renamed):
    copy, _ = renamed
    listing = run(
        copy,
        "-c",
        "import json; from ci.chart.argocd import applications; print(json.dumps("
        "[[a.name, a.release_name, a.namespace] for a in applications()]))",
    )
    assert listing.returncode == 0, listing.stderr
    assert sorted(json.loads(listing.stdout)) == [
        ["orders-dev", "orders", "orders-dev"],
        ["orders-prod", "orders", "orders-prod"],
    ]
    done = run(copy, "-m", "ci", "render", "--env", "dev")
    assert done.returncode == 0, done.stderr
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "orders"), ("Service", "orders"), ("Ingress", "orders")} <= names
    assert all(o["metadata"]["labels"]["app.kubernetes.io/name"] == "orders" for o in objects)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.split("@")[0].rsplit(":", 1)[0].endswith("/orders")
    assert OLD.name not in done.stdout


def name_reading_test_files(copy: Path) -> list[str]:
    """The copy's test files that name the service (``SERVICE_NAME``, or its new name or URL as
    the rename wrote them), the chart's (the rename edits it), and the checks of the whole tree
    (``tests/test_*.py``)."""
    marks = ("SERVICE_NAME", NEW.name, NEW.url)
    always = (copy / "tests", copy / "tests" / "chart")
    return [
        str(path.relative_to(copy))
        for path in sorted((copy / "tests").rglob("test_*.py"))
        if path.parent in always or any(mark in path.read_text() for mark in marks)
    ]


@pytest.mark.long
def test_the_renamed_copys_tests_that_read_the_name_pass(renamed):
    """Their unit-tier tests (`make unit`'s selection), run by the copy's own pytest and
    conftest: the rest of the unit tier cannot tell one name from another."""
    copy, _ = renamed
    files = name_reading_test_files(copy)
    assert "tests/chart/test_render.py" in files
    tier = "not integration and not image and not e2e"
    argv = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", tier, *files]
    done = run(copy, *argv, timeout=540)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]
