"""Where the test runs write their temporary files: a tmpfs with room to spare, else the default.

The tests write many small files and remove them again: git objects and clones, copies of the
project, image layers that buildah's vfs driver copies whole. On a disk that is journaled and
discards freed blocks (this machine's ext4), that I/O is half of the e2e tier's time; in memory it
is not. ``python3 -m harness.tmpdir`` prints a private folder on ``/dev/shm`` when that is a tmpfs
with at least ``MIN_FREE_BYTES`` free (a container's default /dev/shm is 64 MB), else nothing: the
Makefile then leaves TMPDIR alone. Standard library only: it runs before the virtualenv exists.
"""

import os
import stat
import sys
from pathlib import Path

SHM = Path("/dev/shm")
# The e2e tier's peak was 3.6 GB (three workers, their image storages); room to spare beside it.
MIN_FREE_BYTES = 8 * 2**30


def is_tmpfs(mount_point: Path, mounts: str) -> bool:
    """Whether ``mount_point`` is a tmpfs, by /proc/mounts' text (the last mount wins)."""
    kinds = [
        fields[2]
        for fields in (line.split() for line in mounts.splitlines())
        if len(fields) > 2 and fields[1] == str(mount_point)
    ]
    return bool(kinds) and kinds[-1] == "tmpfs"


def private_folder(base: Path, uid: int) -> Path | None:
    """``base/tmp-<uid>``, made if missing (mode 700), or None when something else already holds
    that name: a link, a file, or a folder another user owns or others can write to (/dev/shm is
    world-writable, so anyone could have made it first)."""
    folder = base / f"tmp-{uid}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        return None
    return folder


def choose(mounts: str, free_bytes: int, uid: int, base: Path = SHM) -> Path | None:
    """The folder for the tests' temporary files, or None for the system's default."""
    if not is_tmpfs(base, mounts) or free_bytes < MIN_FREE_BYTES:
        return None
    return private_folder(base, uid)


def main() -> int:
    try:
        mounts = Path("/proc/mounts").read_text()
        vfs = os.statvfs(SHM)
    except OSError:
        return 0
    folder = choose(mounts, vfs.f_bavail * vfs.f_frsize, os.getuid())
    if folder is not None:
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
