"""A local base image for building the Dockerfile where no registry image can be pulled.

``local_base_image()`` debootstraps a minimal Debian with python3 (about 100 s), keeps the root
filesystem as a tarball under ``${XDG_CACHE_HOME:-~/.cache}/<SERVICE_NAME>/`` keyed by a hash
of the debootstrap arguments, and imports it into buildah's storage as
``localhost/<SERVICE_NAME>-base:<hash>``. Later calls (tests, the benchmark, CI reruns) reuse
the image or the tarball. ``host_build_volumes()`` lists the host files that ``pip`` inside a
``RUN`` step needs on this kind of machine (CA bundle, pip config): build-time mounts only, never
baked into the image.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app import SERVICE_NAME
from harness.tools import SBIN_PATH

SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_NAME = f"localhost/{SERVICE_NAME}-base"
# Left out of the base, as Debian's slim images do (dpkg path-exclude): docs, manuals, translations.
SLIM_PATHS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")
# Files pip needs inside a RUN step here: host path -> mounted at the same path, read-only.
HOST_PIP_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")
FUSE_OVERLAYFS = "/usr/bin/fuse-overlayfs"
# What points buildah at a storage: containers/storage's configuration file, and the driver
# (buildah 1.28 reads the driver only from its flag: ``buildah()`` passes STORAGE_DRIVER on).
STORAGE_VARIABLES = ("CONTAINERS_STORAGE_CONF", "STORAGE_DRIVER")


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(root) / SERVICE_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def debootstrap_args() -> list[str]:
    """The debootstrap arguments before the target directory (mirror: debootstrap's default)."""
    args = ["--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE]
    return args


def _key(args: list[str]) -> str:
    return hashlib.sha256("\0".join([*args, *SLIM_PATHS]).encode()).hexdigest()[:12]


def tool_env() -> dict[str, str]:
    """buildah's environment here: vfs storage and chroot isolation unless already set."""
    env = {**os.environ, "PATH": SBIN_PATH}
    env.setdefault("STORAGE_DRIVER", "vfs")
    env.setdefault("BUILDAH_ISOLATION", "chroot")
    return env


def buildah(*args: str) -> list[str]:
    """A buildah command line using $STORAGE_DRIVER (default vfs).

    buildah 1.28 ignores the STORAGE_DRIVER variable, so it is passed as ``--storage-driver``.
    """
    return ["buildah", "--storage-driver", tool_env()["STORAGE_DRIVER"], *args]


def _run(*cmd: str, **kwargs) -> str:
    result = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=tool_env(), **kwargs
    )
    return result.stdout.strip()


def image_present(name: str) -> bool:
    result = subprocess.run(
        buildah("inspect", "--type", "image", name),
        capture_output=True,
        env=tool_env(),
        check=False,
    )
    return result.returncode == 0


def image_ids() -> set[str]:
    """Every image in buildah's storage, intermediate layer images included."""
    return set(_run(*buildah("images", "--all", "--quiet", "--no-trunc")).split())


@contextlib.contextmanager
def private_storage(folder: Path, driver: str = "vfs") -> Iterator[None]:
    """buildah, in this process and the programs it starts, on a storage of its own under
    ``folder`` (overlay: mounted by fuse-overlayfs), removed afterwards with what was built there.

    Builds side by side (test processes, the benchmark) neither see nor remove each other's
    images; a base image is imported into it from the cached tarball (``local_base_image``).
    """
    conf = folder / "storage.conf"
    text = f'[storage]\ndriver = "{driver}"\n'
    text += f'graphroot = "{folder / "storage"}"\nrunroot = "{folder / "run"}"\n'
    if driver == "overlay":
        text += f'[storage.options.overlay]\nmount_program = "{FUSE_OVERLAYFS}"\n'
    folder.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    saved = {name: os.environ.get(name) for name in STORAGE_VARIABLES}
    os.environ.update(CONTAINERS_STORAGE_CONF=str(conf), STORAGE_DRIVER=driver)
    try:
        yield
    finally:
        # Containers a failed build left, and fuse-overlayfs mounts that outlive them.
        for leftovers in (("rm", "--all"), ("umount", "--all")):
            subprocess.run(buildah(*leftovers), env=tool_env(), capture_output=True, check=False)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for part in ("storage", "run"):
            shutil.rmtree(folder / part, ignore_errors=True)


@contextlib.contextmanager
def images_removed_afterwards() -> Iterator[None]:
    """Remove every image (final or intermediate) that buildah stored meanwhile.

    On vfs each layer image is a full copy of the root filesystem: the builds of every test run
    left behind would fill the disk run after run. Images that existed before (the base) stay.
    """
    before = image_ids()
    try:
        yield
    finally:
        created = image_ids() - before
        if created:
            subprocess.run(
                buildah("rmi", "--force", *created),
                capture_output=True,
                env=tool_env(),
                check=False,
            )


def _debootstrap(tarball: Path, args: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="base-rootfs-", dir=cache_dir()) as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run("debootstrap", *args, str(rootfs))
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        for slim in SLIM_PATHS:
            for path in (rootfs / slim).glob("*"):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.name != "locale.alias":
                    path.unlink()
        partial = tarball.with_suffix(".partial")
        _run("tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), ".")
        partial.rename(tarball)


def _import(tarball: Path, name: str) -> None:
    ctr = _run(*buildah("from", "scratch"))
    try:
        mnt = _run(*buildah("mount", ctr))
        _run("tar", "--numeric-owner", "-C", mnt, "-xf", str(tarball))
        _run(*buildah("umount", ctr))
        _run(*buildah("config", "--cmd", "python3", ctr))
        _run(*buildah("commit", "--quiet", ctr, name))
    finally:
        subprocess.run(buildah("rm", ctr), capture_output=True, env=tool_env(), check=False)


def local_base_image() -> str:
    """The name of the local Debian+python3 base image, made (or restored from cache) if needed."""
    args = debootstrap_args()
    key = _key(args)
    name = f"{BASE_NAME}:{key}"
    tarball = cache_dir() / f"base-{key}.tar"
    with open(cache_dir() / f"base-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_present(name):
            return name
        if not tarball.exists():
            _debootstrap(tarball, args)
        _import(tarball, name)
    return name


def host_build_volumes() -> list[str]:
    """``-v`` specs mounting the host's CA bundle and pip config read-only, for RUN steps only."""
    return [f"{path}:{path}:ro" for path in HOST_PIP_FILES if Path(path).is_file()]


def main() -> None:
    if not shutil.which("debootstrap", path=SBIN_PATH):
        raise SystemExit("debootstrap not found (run `make tools` as root)")
    print(local_base_image())


if __name__ == "__main__":
    main()
