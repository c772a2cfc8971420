"""``python -m ci build``'s flags, in this process: each flag beats its variable, and --dry-run
writes nothing (the inputs, the plan and the build itself: tests/ci/test_build.py)."""

from tests.ci.test_build import REGISTRY, run_cli


def test_dry_run_writes_nothing(build_env, tmp_path, capsys):
    build_env.chdir(tmp_path)
    assert run_cli("--dry-run") == 0
    assert list(tmp_path.iterdir()) == []


def test_flags_override_variables(build_env, capsys):
    build_env.setenv("PROJECT_NAME", "from-project-name")
    assert run_cli("--dry-run", "--name", "other", "--tag", "v1.2.3", "--registry", "r.io/x") == 0
    out = capsys.readouterr().out
    assert "r.io/x/other:v1.2.3" in out
    assert "ensure ECR repository x/other in" in out


def test_project_name_beats_ci_project_name(build_env, capsys):
    build_env.setenv("PROJECT_NAME", "renamed")
    assert run_cli("--dry-run") == 0
    assert f"{REGISTRY}/renamed:0123abcd" in capsys.readouterr().out
