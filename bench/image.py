"""`make bench-image`: this Dockerfile against a seed-style one, built side by side with buildah.

Both build on the same local base image (debootstrap, cached) from a temporary copy of the
repository. For each: the bytes the image adds above the base (unpacked filesystem, measured on
the mounted image with du), the full build time (--no-cache), and the rebuild time after a
one-line change in app/ (layers cached). Targets: ours adds <= 0.45x the seed-style bytes, and
a code-only rebuild takes <= 0.25x of our full build. Exit 1 if a target is missed. A no-op
rebuild (nothing changed) shows buildah's fixed cost per build, the floor under any rebuild.

Storage driver: overlay through fuse-overlayfs when it is installed and /dev/fuse exists (what a
GitLab runner with fuse gives buildah: a step's layer is a mount, not a copy), else vfs, which
copies the whole root filesystem for every step, cached or not. ``--storage-driver`` picks one.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.image import (
    FUSE_OVERLAYFS,
    buildah,
    host_build_volumes,
    local_base_image,
    private_storage,
    tool_env,
)
from harness.tools import SBIN_PATH

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "requirements.txt", "requirements.lock", "app")
SIZE_TARGET = 0.45
REBUILD_TARGET = 0.25

# The seed's way: one stage, a venv with pip left in, dependencies, then the app.
SEED_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
WORKDIR /app
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app/ ./app/
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080"]
"""


class BenchError(Exception):
    pass


@dataclass
class Result:
    label: str
    dockerfile: str
    added_bytes: int = 0
    full: list[float] = field(default_factory=list)
    rebuild: list[float] = field(default_factory=list)
    noop: list[float] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"localhost/bench-image-{self.label}:latest"

    @property
    def rebuild_ratio(self) -> float:
        return statistics.median(self.rebuild) / statistics.median(self.full)


def run(argv: list[str], **kwargs) -> str:
    result = subprocess.run(
        argv, env=tool_env(), capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = lines[-1] if lines else ""
        raise BenchError(f"{' '.join(argv[:4])} ... failed (exit {result.returncode}): {tail}")
    return result.stdout.strip()


def unpacked_bytes(image: str) -> int:
    """Bytes of the image's root filesystem, as du sees it on the mounted image."""
    ctr = run(buildah("from", "--pull=false", image))
    try:
        mnt = run(buildah("mount", ctr))
        return int(run(["du", "-s", "-b", "-x", mnt]).split()[0])
    finally:
        subprocess.run(buildah("rm", ctr), env=tool_env(), capture_output=True, check=False)


def build(context: Path, dockerfile: str, tag: str, base: str, cached: bool) -> float:
    argv = buildah(
        "bud",
        "--layers",
        "--pull=false",  # the base is local: no registry to ask
        "--isolation",
        tool_env()["BUILDAH_ISOLATION"],
        "--file",
        str(context / dockerfile),
        "--tag",
        tag,
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        "VERSION=bench",
    )
    for volume in host_build_volumes():
        argv += ["--volume", volume]
    if not cached:
        argv.append("--no-cache")
    started = time.monotonic()
    run([*argv, str(context)])
    return time.monotonic() - started


def change_one_line(context: Path) -> None:
    main = context / "app" / "main.py"
    main.write_text(main.read_text() + f"# bench-image: one-line change {time.time_ns()}\n")


def measure(images: list[Result], context: Path, base: str, base_bytes: int, rounds: int) -> None:
    """Interleaved rounds, so both images see the same machine load: full builds (no cache),
    then a one-line change and a cached rebuild of each; one no-op rebuild at the end."""
    for number in range(rounds):
        change_one_line(context)
        for image in images:
            image.full.append(build(context, image.dockerfile, image.tag, base, cached=False))
            if number == 0:
                image.added_bytes = unpacked_bytes(image.tag) - base_bytes
        change_one_line(context)
        for image in images:
            image.rebuild.append(build(context, image.dockerfile, image.tag, base, cached=True))
        print(f"round {number + 1}/{rounds} done", flush=True)
    for image in images:
        image.noop.append(build(context, image.dockerfile, image.tag, base, cached=True))


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def report(ours: Result, seed: Result) -> bool:
    size_ratio = ours.added_bytes / seed.added_bytes
    print(
        f"{'image':<12}{'added bytes':>26}{'full build':>12}{'code rebuild':>14}{'ratio':>7}"
        f"{'no-op rebuild':>15}"
    )
    for r in (ours, seed):
        full, rebuild, noop = (statistics.median(v) for v in (r.full, r.rebuild, r.noop))
        print(
            f"{r.label:<12}{r.added_bytes:>14,} ({mib(r.added_bytes):>9}){full:>11.1f}s"
            f"{rebuild:>13.1f}s{r.rebuild_ratio:>6.2f}x{noop:>14.1f}s"
        )
    size_ok = size_ratio <= SIZE_TARGET
    rebuild_ok = ours.rebuild_ratio <= REBUILD_TARGET
    print(
        f"size: ours adds {size_ratio:.2f}x the seed-style bytes "
        f"(target <= {SIZE_TARGET}x): {'ok' if size_ok else 'MISSED'}"
    )
    print(
        f"code-only rebuild: {ours.rebuild_ratio:.2f}x of our full build "
        f"(target <= {REBUILD_TARGET}x): {'ok' if rebuild_ok else 'MISSED'}"
    )
    return size_ok and rebuild_ok


def default_driver() -> str:
    """overlay when fuse-overlayfs can mount it here, else vfs."""
    if Path(FUSE_OVERLAYFS).is_file() and Path("/dev/fuse").exists():
        return "overlay"
    return "vfs"


def run_rounds(tmp: Path, rounds: int) -> tuple[Result, Result]:
    base = local_base_image()  # imported into the private storage from the cached tarball
    base_bytes = unpacked_bytes(base)
    context = tmp / "context"
    context.mkdir()
    for name in CONTEXT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    (context / "Dockerfile.seed").write_text(SEED_DOCKERFILE)
    driver = tool_env()["STORAGE_DRIVER"]
    print(f"base {base}: {base_bytes:,} bytes; {rounds} rounds ({driver} storage)...", flush=True)
    ours = Result("ours", "Dockerfile")
    seed = Result("seed-style", "Dockerfile.seed")
    measure([ours, seed], context, base, base_bytes, rounds)
    return ours, seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.image", description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=3, help="build rounds; medians are reported (default 3)"
    )
    parser.add_argument(
        "--storage-driver",
        choices=("overlay", "vfs"),
        default=default_driver(),
        help="buildah storage driver; overlay is mounted with fuse-overlayfs "
        "(default: overlay when fuse-overlayfs and /dev/fuse exist, else vfs)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    tools = ["buildah", "debootstrap"] + (
        ["fuse-overlayfs"] if args.storage_driver == "overlay" else []
    )
    missing = [t for t in tools if not shutil.which(t, path=SBIN_PATH)]
    if missing:
        print(f"error: missing tools: {', '.join(missing)} (run `make tools`)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        try:
            # A storage of its own: the shared one's images neither slow the cache lookups nor
            # get the bench's leftovers.
            with private_storage(Path(tmp) / "buildah", args.storage_driver):
                ours, seed = run_rounds(Path(tmp), args.rounds)
        except (BenchError, subprocess.CalledProcessError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(f"medians of {args.rounds} rounds, buildah storage driver: {args.storage_driver}")
    return 0 if report(ours, seed) else 1


if __name__ == "__main__":
    sys.exit(main())
