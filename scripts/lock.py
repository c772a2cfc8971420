"""`make lock`: requirements.txt -> requirements.lock, every package of the image hash-pinned.

The image installs the lock with ``pip install --require-hashes --no-deps``: nothing floats, and
a file that is not the one locked (a re-uploaded or tampered wheel) is refused. pip itself
resolves: ``pip install --dry-run --report`` for each platform the image is built for (CPython
3.11 on Debian bookworm, glibc 2.36, x86_64 and aarch64), and the lock keeps, per package, the
version and the sha256 of each wheel chosen. The lock records the sha256 of requirements.txt's
requirement lines (comments do not count), so a test sees at once when it is stale.

    python scripts/lock.py            # write requirements.lock
    python scripts/lock.py --check    # exit 1 if resolving again would change it (PyPI needed)
    python scripts/lock.py base       # pin the Dockerfile's BASE_IMAGE to its registry digest

``base`` asks the registry (``skopeo inspect --raw``) for the image's manifest (for an official
image: the multi-arch index) and writes ``ARG BASE_IMAGE=NAME:TAG@sha256:...`` into the
Dockerfile; the digest is the sha256 of those raw bytes, what ``crane digest`` prints too.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.11"
GLIBC_MINOR = 36  # Debian bookworm, the base image's release
ARCHES = ("x86_64", "aarch64")
DIGEST_LINE = "# requirements.txt sha256: "
HEADER = """\
# Every package the image installs, pinned with the sha256 of each wheel it may use: the
# Dockerfile installs this file with `pip install --require-hashes --no-deps`. Generated from
# requirements.txt by `make lock` (python scripts/lock.py); do not edit by hand.
# Platforms: CPython {python}, manylinux glibc <= 2.{glibc}, {arches}.
"""
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*\\?$")
HASH_RE = re.compile(r"^\s+--hash=sha256:([0-9a-f]{64})\s*\\?$")
BASE_ARG_RE = re.compile(r"^ARG BASE_IMAGE=(\S+)$", re.MULTILINE)


class LockError(Exception):
    pass


@dataclass
class Pin:
    version: str
    hashes: set[str] = field(default_factory=set)


def canonical(name: str) -> str:
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(text: str) -> list[str]:
    """requirements.txt without comments and blank lines: what the lock depends on."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def requirements_digest(text: str) -> str:
    return hashlib.sha256("\n".join(requirement_lines(text)).encode()).hexdigest()


def top_level_pins(text: str) -> dict[str, str]:
    """name -> version of requirements.txt's ``name==version`` lines."""
    pins = {}
    for line in requirement_lines(text):
        name, _, version = line.partition("==")
        pins[canonical(name)] = version.strip()
    return pins


def platforms(arch: str) -> list[str]:
    """pip --platform tags for a glibc <= 2.GLIBC_MINOR Linux on ``arch``."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 16, -1)]
    legacy = (
        ("manylinux2014", "manylinux2010", "manylinux1") if arch == "x86_64" else ("manylinux2014",)
    )
    return tags + [f"{name}_{arch}" for name in legacy]


def report_argv(requirements: Path, arch: str, report: Path, target: Path) -> list[str]:
    """pip resolving for ``arch`` without installing (--target is only what pip demands)."""
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    argv += ["--disable-pip-version-check", "--report", str(report), "--target", str(target)]
    argv += ["--only-binary=:all:", "--implementation", "cp", "--abi", "cp311"]
    argv += ["--python-version", PYTHON_VERSION]
    for tag in platforms(arch):
        argv += ["--platform", tag]
    return [*argv, "-r", str(requirements)]


def pins_from_report(report: dict) -> dict[str, Pin]:
    pins = {}
    for item in report["install"]:
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes:
            raise LockError(f"pip reported no sha256 for {item['download_info']['url']}")
        pins[canonical(item["metadata"]["name"])] = Pin(
            item["metadata"]["version"], {hashes["sha256"]}
        )
    return pins


def merge(per_arch: list[dict[str, Pin]]) -> dict[str, Pin]:
    """One pin per package over all platforms; a version that differs by platform is an error."""
    merged: dict[str, Pin] = {}
    for pins in per_arch:
        for name, pin in pins.items():
            seen = merged.setdefault(name, Pin(pin.version))
            if seen.version != pin.version:
                raise LockError(f"{name} resolves to {seen.version} and {pin.version} by platform")
            seen.hashes |= pin.hashes
    if len({frozenset(pins) for pins in per_arch}) > 1:
        raise LockError("the platforms resolve to different sets of packages")
    return merged


def render(pins: dict[str, Pin], digest: str) -> str:
    head = HEADER.format(python=PYTHON_VERSION, glibc=GLIBC_MINOR, arches=" and ".join(ARCHES))
    lines = [head + DIGEST_LINE + digest]
    for name in sorted(pins):
        hashes = [f"    --hash=sha256:{value}" for value in sorted(pins[name].hashes)]
        lines.append(" \\\n".join([f"{name}=={pins[name].version}", *hashes]))
    return "\n".join(lines) + "\n"


def parse_lock(text: str) -> tuple[str, dict[str, Pin]]:
    """The recorded requirements digest and the pins of a lock file."""
    digest, pins, current = "", {}, None
    for line in text.splitlines():
        if line.startswith(DIGEST_LINE):
            digest = line.removeprefix(DIGEST_LINE).strip()
        elif match := PIN_RE.match(line):
            current = pins.setdefault(canonical(match[1]), Pin(match[2]))
        elif (match := HASH_RE.match(line)) and current is not None:
            current.hashes.add(match[1])
    return digest, pins


def stale_reasons(requirements: str, lock: str) -> list[str]:
    """Why the lock no longer matches requirements.txt (empty: it matches), without a network."""
    digest, pins = parse_lock(lock)
    reasons = []
    if digest != requirements_digest(requirements):
        reasons.append("requirements.txt changed since the lock was written")
    for name, version in top_level_pins(requirements).items():
        locked = pins[name].version if name in pins else None
        if locked != version:
            reasons.append(f"{name}=={version} is locked as {locked or 'nothing'}")
    reasons += [f"{name} has no hash" for name, pin in pins.items() if not pin.hashes]
    return reasons


def resolve(requirements: Path) -> str:
    """The lock text for ``requirements``, resolved by pip for every platform (PyPI needed)."""
    per_arch = []
    with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
        for arch in ARCHES:
            report = Path(tmp) / f"{arch}.json"
            argv = report_argv(requirements, arch, report, Path(tmp) / "target")
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                tail = (result.stderr.strip().splitlines() or [""])[-1]
                raise LockError(f"pip could not resolve {requirements.name} for {arch}: {tail}")
            per_arch.append(pins_from_report(json.loads(report.read_text())))
    return render(merge(per_arch), requirements_digest(requirements.read_text()))


def pin_base_image(dockerfile: str, digest: str) -> str:
    """The Dockerfile with ``ARG BASE_IMAGE`` pinned to ``digest`` (its NAME:TAG kept)."""
    match = BASE_ARG_RE.search(dockerfile)
    if not match:
        raise LockError("Dockerfile has no `ARG BASE_IMAGE=...` line")
    name = match[1].split("@", 1)[0]
    start, end = match.span(1)
    return dockerfile[:start] + f"{name}@{digest}" + dockerfile[end:]


def registry_digest(reference: str) -> str:
    """sha256 of the manifest (or index) the registry serves for ``reference``."""
    argv = ["skopeo", "inspect", "--raw", f"docker://{reference}"]
    try:
        result = subprocess.run(argv, capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise LockError("skopeo not found (run `make tools`)") from None
    if result.returncode != 0:
        tail = (result.stderr.decode().strip().splitlines() or [""])[-1]
        raise LockError(f"skopeo inspect {reference} failed: {tail}")
    return "sha256:" + hashlib.sha256(result.stdout).hexdigest()


def refresh_base(dockerfile: Path) -> str:
    text = dockerfile.read_text()
    match = BASE_ARG_RE.search(text)
    name = match[1].split("@", 1)[0] if match else ""
    updated = pin_base_image(text, registry_digest(name))
    if updated == text:
        return f"{dockerfile.name}: BASE_IMAGE already at {match[1]}"
    dockerfile.write_text(updated)
    return f"{dockerfile.name}: BASE_IMAGE={BASE_ARG_RE.search(updated)[1]}"


def lock(requirements: Path, lock_file: Path, check: bool) -> int:
    text = resolve(requirements)
    current = lock_file.read_text() if lock_file.exists() else ""
    if text == current:
        print(f"{lock_file.name} is up to date with {requirements.name}")
        return 0
    if check:
        print(f"error: {lock_file.name} is stale: run `make lock`", file=sys.stderr)
        return 1
    lock_file.write_text(text)
    print(f"wrote {lock_file.name}: {text.count('==')} packages")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lock.py", description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=("packages", "base"), default="packages")
    parser.add_argument("--check", action="store_true", help="exit 1 if the lock is stale")
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "Dockerfile")
    args = parser.parse_args(argv)
    try:
        if args.what == "base":
            print(refresh_base(args.dockerfile))
            return 0
        return lock(args.requirements, args.lock, args.check)
    except LockError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
