"""Running .gitlab-ci.yml with gitlab-ci-local, and reading what happened from its output.

gitlab-ci-local (npm, installed by ``make tools``) runs the jobs on this machine in stage order,
honouring rules, when, needs and dotenv artifacts. It starts jobs in batches: the next jobs whose
needs are met start once every job of the running batch ended (GitLab starts each as soon as its
own needs ended), so ``PipelineRun.end_by_needs`` gives the schedule GitLab would have run. With
``--force-shell-executor`` the ``image:`` keys are ignored and every job runs in the checkout.
"""

import functools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GITLAB_CI_LOCAL = ROOT / "node_modules" / ".bin" / "gitlab-ci-local"

STARTED = re.compile(r"^(?P<job>[\w.-]+)\s+starting\s")
FINISHED = re.compile(r"^(?P<job>[\w.-]+)\s+finished in\s")
# The summary: " PASS  unit          83% coverage".
VERDICT = re.compile(r"^\s*(?P<verdict>PASS|WARN|FAIL)\s+(?P<job>[\w.-]+)(\s|$)")


@dataclass
class PipelineRun:
    """One gitlab-ci-local invocation: exit code, output, and when each job ran."""

    returncode: int
    output: str
    wall: float
    started: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)

    def jobs_with(self, verdict: str) -> set[str]:
        return {job for job, seen in self.verdicts.items() if seen == verdict}

    def job_seconds(self, job: str) -> float:
        return self.finished[job] - self.started[job]

    def stage_windows(self, stage_of: Mapping[str, str]) -> dict[str, float]:
        """Stage -> seconds from its first job's start to its last job's end."""
        windows: dict[str, tuple[float, float]] = {}
        for job, start in self.started.items():
            stage = stage_of[job]
            end = self.finished.get(job, start)
            first, last = windows.get(stage, (start, end))
            windows[stage] = (min(first, start), max(last, end))
        return {stage: last - first for stage, (first, last) in windows.items()}

    def end_by_needs(self, job: str, needs: Mapping[str, Sequence[str]]) -> float:
        """When ``job`` would have ended, from the pipeline's first job start, had every job
        started as soon as its needs ended (GitLab's schedule; gitlab-ci-local starts the next
        jobs only once the whole running batch ended), each taking the time it took here."""

        @functools.cache
        def end(name: str) -> float:
            ready = [end(need) for need in needs.get(name, ()) if need in self.finished]
            return max(ready, default=0.0) + self.job_seconds(name)

        return end(job)

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


# What the test run's own make and pytest put in the environment: a runner's job has none of it
# (``make e2e PYTEST_ARGS=...`` would otherwise reach the jobs' own ``make unit`` through
# MAKEFLAGS, over the job's PYTEST_ARGS).
OUTER_RUN = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTEST_")


def job_environment() -> dict[str, str]:
    """This process's environment without the test run's own, colours off."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(OUTER_RUN)}
    return {**kept, "NO_COLOR": "1", "PY_COLORS": "0"}


def command(args: Sequence[str], variables: Mapping[str, str], home: Path) -> list[str]:
    cmd = [str(GITLAB_CI_LOCAL), "--no-color", "--home", str(home), *args]
    for name, value in variables.items():
        cmd += ["--variable", f"{name}={value}"]
    return cmd


def run(
    cwd: Path,
    args: Sequence[str],
    variables: Mapping[str, str],
    home: Path,
    log: Path,
    timeout: float,
) -> PipelineRun:
    """Run gitlab-ci-local, timestamping each output line; stop it (its group) after timeout."""
    start = time.monotonic()
    result = PipelineRun(returncode=-1, output="", wall=0.0)
    lines: list[str] = []
    with subprocess.Popen(
        command(args, variables, home),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=job_environment(),
        start_new_session=True,
    ) as proc:
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGTERM))
        timer.start()
        try:
            with log.open("a") as out:
                for line in proc.stdout:
                    now = time.monotonic() - start
                    out.write(f"[{now:7.1f}s] {line}")
                    out.flush()
                    lines.append(line.rstrip("\n"))
                    if match := STARTED.match(line):
                        result.started.setdefault(match["job"], now)
                    elif match := FINISHED.match(line):
                        result.finished[match["job"]] = now
                    elif match := VERDICT.match(line):
                        result.verdicts[match["job"]] = match["verdict"]
            result.returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    result.output = "\n".join(lines)
    result.wall = time.monotonic() - start
    return result


def needs_of(config: Path) -> dict[str, list[str]]:
    """What each job of a .gitlab-ci.yml waits for: its ``needs:`` (through ``extends:``), or
    without one every job of the earlier stages."""
    document = yaml.safe_load(config.read_text())
    stages = document["stages"]

    def key(name: str, field: str) -> Any:
        job = document[name]
        if field in job:
            return job[field]
        parents = job.get("extends", [])
        for parent in [parents] if isinstance(parents, str) else reversed(parents):
            if (found := key(parent, field)) is not None:
                return found
        return None

    jobs = [name for name, job in document.items() if isinstance(job, dict) and "script" in job]
    stage = {name: key(name, "stage") or "test" for name in jobs}
    waits = {}
    for name in jobs:
        needs = key(name, "needs")
        if needs is None:
            earlier = stages[: stages.index(stage[name])]
            waits[name] = [other for other in jobs if stage[other] in earlier]
        else:
            waits[name] = [need if isinstance(need, str) else need["job"] for need in needs]
    return waits


def list_jobs(cwd: Path, home: Path, variables: Mapping[str, str] | None = None) -> dict[str, dict]:
    """``gitlab-ci-local --list`` as {job: {stage, when, allow_failure, needs}}."""
    proc = subprocess.run(
        command(["--list"], variables or {}, home),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = [line for line in proc.stdout.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(rows) if line.startswith("name "))
    columns = rows[header].split()
    jobs: dict[str, dict] = {}
    for line in rows[header + 1 :]:
        cells = line.split()
        # No description column values here; cells: name stage when allow_failure [env] needs.
        name, stage, when, allow_failure = cells[:4]
        jobs[name] = {
            "stage": stage,
            "when": when,
            "allow_failure": allow_failure == "true",
            "needs": cells[-1],
        }
    assert columns[0] == "name", columns
    return jobs
