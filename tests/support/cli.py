"""`python -m ci` (and the benchmarks' `python -m bench.*`) run as users run them: a subprocess
from the repository root; ci in an environment without the pipeline variables of whatever shell
runs the tests."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Variables that would change what the CLI does: the tests set what they need explicitly.
STRIPPED_PREFIXES = ("CI_", "GITLAB_", "GITOPS_", "IMAGE_", "REGISTRY_", "GIT_", "ARGOCD_", "WAIT_")


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


def default_sigint() -> None:
    """A child's ``preexec_fn``: SIGINT back to its default. A shell's background job (``make
    test &``, a nohup'd run) starts with SIGINT ignored, which its children inherit, and Python
    then installs no KeyboardInterrupt handler: a test that sends SIGINT would see no interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_ci(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ci", *args],
        cwd=ROOT,
        env=ci_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def run_bench(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m bench.MODULE ARGS`` from the repository root; return the process."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy_args(url: str, tag: str) -> list[str]:
    """``deploy`` of ``tag`` into dev of the gitops remote at ``url``."""
    return ["deploy", "--repo", url, "--env", "dev", "--tag", tag]
