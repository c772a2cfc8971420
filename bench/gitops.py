"""`make bench-gitops`: the write-back's cost on a small and a large remote, and racing deploys.

1. Median wall time of one `python -m ci deploy` (the real CLI, a real commit each time) against a
   small local bare remote, and against a remote with 20,000 commits and ~200 MB of history,
   measured interleaved; the ratio large/small should be at most 1.1.
2. The cost of rendering before the push: the same deploy with the render switched off (in
   process, ``ci.gitops.render.check`` replaced; no switch exists), interleaved with the
   normal one; the render should add at most 30%.
3. 16 deploys started at once, each to its own environment of the small remote: total time,
   push retries used, and whether all 16 commits landed.

Both remotes carry this project's chart, Argo CD manifests and values.<env>.yaml, so every deploy
renders what Argo CD would.

The large remote is generated with `git fast-import` once and cached under
``${XDG_CACHE_HOME:-~/.cache}/<SERVICE_NAME>/``; each run deploys into a throw-away bare
repository that borrows its objects (``clone --shared``), so the cache stays pristine.
"""

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app import SERVICE_NAME

REPO_ROOT = Path(__file__).resolve().parents[1]
LARGE_VERSION = "v2"  # v2: the chart and Argo CD manifests in the layout
VALUES = f"""\
# Owned by the pipeline: `python -m ci deploy|promote|rollback` commits here.
image:
  repository: registry.example/{SERVICE_NAME}
  tag: "0.0.0-bootstrap"
"""
RACE_ENVS = 16
TARGET_RATIO = 1.1
TARGET_RENDER_RATIO = 1.3
DEPLOY = [sys.executable, "-m", "ci", "deploy", "--repo"]
# The same CLI with the render before push replaced by nothing, in the benchmark's own process
# (the product has no switch for it), to measure what it costs.
WITHOUT_RENDER = [
    sys.executable,
    "-c",
    "import sys; import ci.gitops.render as r; r.check = lambda *a, **k: None;"
    " from ci.cli import main; sys.exit(main(sys.argv[1:]))",
]


def project_layout(envs: list[str]) -> dict[str, bytes]:
    """What Argo CD renders from: the chart, gitops/argocd/ and values.<env>.yaml."""
    files: dict[str, bytes] = {}
    for path in sorted((REPO_ROOT / "helm-chart").rglob("*")):
        if path.is_file():
            files[path.relative_to(REPO_ROOT).as_posix()] = path.read_bytes()
    for path in sorted((REPO_ROOT / "gitops" / "argocd").glob("*.yaml")):
        files[path.relative_to(REPO_ROOT).as_posix()] = path.read_bytes()
    for env in envs:
        people = REPO_ROOT / f"values.{env}.yaml"
        files[f"values.{env}.yaml"] = (
            people.read_bytes() if people.exists() else b"# nothing differs\n"
        )
    return files


class BenchError(Exception):
    pass


def git(*args: str, cwd: Path, input: bytes | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / SERVICE_NAME


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def fast_import(
    repo: Path, commits: int, blob_bytes: int, envs: list[str], files: int = 500
) -> None:
    """Write ``commits`` commits into the bare ``repo``: the project layout first, then each
    commit rewrites one of ``files`` data files with ``blob_bytes`` of random (incompressible)
    bytes, so the history weighs about commits * blob_bytes."""
    git("init", "-q", "--bare", "-b", "main", str(repo), cwd=repo.parent)
    process = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=repo, stdin=subprocess.PIPE
    )
    assert process.stdin is not None
    rng = random.Random(42)
    stamp = 1_700_000_000
    out = process.stdin
    layout = {f"gitops/{env}/values.yaml": VALUES.encode() for env in envs}
    layout.update(project_layout(envs))
    layout["app.py"] = b"VERSION = 0\n"
    for number in range(commits):
        out.write(b"commit refs/heads/main\n")
        out.write(b"mark :%d\n" % (number + 1))
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % (stamp + number))
        out.write(_data(b"change %d" % number))
        if number:
            out.write(b"from :%d\n" % number)
        if number == 0:
            for path, content in layout.items():
                out.write(b"M 100644 inline " + path.encode() + b"\n" + _data(content))
        else:
            path = b"data/file%03d.bin" % (number % files)
            out.write(b"M 100644 inline " + path + b"\n" + _data(rng.randbytes(blob_bytes)))
    out.write(b"done\n")
    out.close()
    if process.wait() != 0:
        raise BenchError("git fast-import failed")
    for key, value in (
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
    ):
        git("config", key, value, cwd=repo)


def large_remote(commits: int, blob_bytes: int) -> Path:
    path = cache_dir() / f"gitops-bench-{LARGE_VERSION}-{commits}x{blob_bytes}.git"
    if (path / "refs" / "heads" / "main").exists() or (path / "packed-refs").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    partial.mkdir()
    print(
        f"generating {commits} commits of ~{blob_bytes} bytes with git fast-import ...", flush=True
    )
    started = time.monotonic()
    fast_import(partial, commits, blob_bytes, ["dev", "prod"])
    partial.rename(path)
    print(f"  done in {time.monotonic() - started:.1f}s, cached at {path}", flush=True)
    return path


def history_bytes(repo: Path) -> int:
    return sum(f.stat().st_size for f in (repo / "objects").rglob("*") if f.is_file())


def working_copy(origin: Path, target: Path) -> Path:
    """A bare repository sharing ``origin``'s objects; pushes land only in the copy."""
    git("clone", "-q", "--bare", "--shared", str(origin), str(target), cwd=target.parent)
    for key, value in (
        ("uploadpack.allowFilter", "true"),
        ("uploadpack.allowAnySHA1InWant", "true"),
    ):
        git("config", key, value, cwd=target)
    return target


def source_commits(remote: Path, count: int) -> list[str]:
    """The ``count`` most recent code commits, oldest first (deploy tags are their short SHAs)."""
    out = git("log", "--format=%h", "--abbrev=8", f"-{count}", "--skip=1", "main", cwd=remote)
    return list(reversed(out.split()))


def deploy(remote: Path, env: str, tag: str, render: bool = True) -> tuple[float, str]:
    runner = [sys.executable, "-m", "ci"] if render else WITHOUT_RENDER
    command = [*runner, "deploy", "--repo", remote.as_uri(), "--env", env]
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CI_", "GITLAB_", "GITOPS_", "IMAGE_", "GIT_"))
    }
    environ["PYTHONPATH"] = str(REPO_ROOT)
    started = time.monotonic()
    result = subprocess.run(
        [*command, "--tag", tag], cwd=REPO_ROOT, env=environ, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0 or ": pushed " not in result.stdout:
        raise BenchError(
            f"deploy {env} {tag} failed: {result.stdout.strip()} {result.stderr.strip()}"
        )
    return elapsed, result.stdout


def measure_latency(small: Path, large: Path, runs: int) -> tuple[list[float], list[float]]:
    small_tags = source_commits(small, runs)
    large_tags = source_commits(large, runs)
    small_times, large_times = [], []
    for index in range(runs):
        # Interleaved, so drift in the shared machine's load hits both alike.
        small_times.append(deploy(small, "dev", small_tags[index])[0])
        large_times.append(deploy(large, "dev", large_tags[index])[0])
    return small_times, large_times


def measure_render(small: Path, large: Path, runs: int) -> tuple[list[float], list[float]]:
    """Deploys with and without the render, interleaved, alternating the two remotes."""
    tags = {remote: source_commits(remote, 2 * runs + 1) for remote in (small, large)}
    with_render, without = [], []
    for index in range(runs):
        remote = small if index % 2 == 0 else large
        with_render.append(deploy(remote, "prod", tags[remote][2 * index], render=True)[0])
        without.append(deploy(remote, "prod", tags[remote][2 * index + 1], render=False)[0])
    return with_render, without


def race(remote: Path, envs: list[str]) -> tuple[float, list[int], int]:
    tags = [f"race-{index:02d}" for index in range(len(envs))]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITOPS_", "GIT_"))}
    environ["PYTHONPATH"] = str(REPO_ROOT)
    before = git("rev-parse", "main", cwd=remote).strip()
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [*DEPLOY, remote.as_uri(), "--env", env, "--tag", tag],
            cwd=REPO_ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env, tag in zip(envs, tags, strict=True)
    ]
    retries, failures = [], 0
    for process in processes:
        stdout, _ = process.communicate(timeout=600)
        if process.returncode != 0:
            failures += 1
        match = re.search(r"after (\d+) retries", stdout)
        retries.append(int(match.group(1)) if match else 0)
    total = time.monotonic() - started
    landed = int(git("rev-list", "--count", f"{before}..main", cwd=remote))
    for env, tag in zip(envs, tags, strict=True):
        if f'tag: "{tag}"' not in git("show", f"main:gitops/{env}/values.yaml", cwd=remote):
            failures += 1
    return total, retries, landed - failures if failures else landed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gitops", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="deploys per remote (median)")
    parser.add_argument("--commits", type=int, default=20_000, help="commits of the large remote")
    parser.add_argument(
        "--blob-bytes", type=int, default=10_500, help="bytes each large-remote commit adds"
    )
    args = parser.parse_args(argv)
    try:
        large_origin = large_remote(args.commits, args.blob_bytes)
        with tempfile.TemporaryDirectory(prefix="bench-gitops-") as tmp:
            work = Path(tmp)
            small_origin = work / "small-origin.git"
            small_origin.mkdir()
            envs = ["dev", "prod", *(f"race{index:02d}" for index in range(RACE_ENVS))]
            fast_import(small_origin, 3 * args.runs + 5, 64, envs, files=4)
            small = working_copy(small_origin, work / "small.git")
            large = working_copy(large_origin, work / "large.git")
            print(
                f"small remote: {int(git('rev-list', '--count', 'main', cwd=small))} commits,"
                f" {history_bytes(small_origin) / 1e6:.2f} MB; large remote:"
                f" {int(git('rev-list', '--count', 'main', cwd=large))} commits,"
                f" {history_bytes(large_origin) / 1e6:.0f} MB"
            )
            small_times, large_times = measure_latency(small, large, args.runs)
            small_median = statistics.median(small_times)
            large_median = statistics.median(large_times)
            ratio = large_median / small_median
            verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
            print(f"deploy, small remote:  median {small_median * 1000:.0f} ms over {args.runs}")
            print(f"deploy, large remote:  median {large_median * 1000:.0f} ms over {args.runs}")
            print(f"ratio large/small:     {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
            with_render, without = measure_render(small, large, args.runs)
            rendered, bare = statistics.median(with_render), statistics.median(without)
            render_ratio = rendered / bare
            render_verdict = "ok" if render_ratio <= TARGET_RENDER_RATIO else "ABOVE TARGET"
            print(f"deploy with render:    median {rendered * 1000:.0f} ms over {args.runs}")
            print(f"deploy without render: median {bare * 1000:.0f} ms over {args.runs}")
            print(
                f"render adds:           {(render_ratio - 1) * 100:+.0f}% ({render_ratio:.2f}x,"
                f" target <= {TARGET_RENDER_RATIO}x: {render_verdict})"
            )
            race_envs = [f"race{index:02d}" for index in range(RACE_ENVS)]
            total, retries, landed = race(small, race_envs)
            print(
                f"{RACE_ENVS} concurrent deploys: {total:.1f} s total, {sum(retries)} retries"
                f" (max {max(retries)} for one deploy), {landed}/{RACE_ENVS} landed"
            )
            return 0 if landed == RACE_ENVS else 1
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
