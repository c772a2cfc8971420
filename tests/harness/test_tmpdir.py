"""``harness.tmpdir``: the tests' temporary files go to a private folder on a big tmpfs, or stay
where the system puts them."""

import os
from pathlib import Path

import pytest

from harness.tmpdir import MIN_FREE_BYTES, choose, is_tmpfs, main, private_folder

MOUNTS = (
    "/dev/vda / ext4 rw,relatime,discard 0 0\n"
    "tmpfs /dev/shm tmpfs rw,relatime,size=24684084k 0 0\n"
    "proc /proc proc rw 0 0\n"
)


@pytest.mark.parametrize(
    ("mounts", "point", "expected"),
    [
        (MOUNTS, "/dev/shm", True),
        (MOUNTS, "/", False),
        (MOUNTS, "/tmp", False),  # not a mount point of its own
        ("", "/dev/shm", False),
        # Mounted over: the last mount is the one in use.
        (MOUNTS + "/dev/vdb /dev/shm ext4 rw 0 0\n", "/dev/shm", False),
        ("garbage\n\n/dev/shm\n" + MOUNTS, "/dev/shm", True),
    ],
)
def test_a_tmpfs_is_known_by_its_last_mount(mounts, point, expected) -> None:
    assert is_tmpfs(Path(point), mounts) is expected


def test_the_private_folder_is_made_once_and_kept(tmp_path) -> None:
    uid = os.getuid()
    folder = private_folder(tmp_path, uid)
    assert folder == tmp_path / f"tmp-{uid}"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert private_folder(tmp_path, uid) == folder


@pytest.mark.parametrize("squatter", ["link", "file", "open folder", "other owner"])
def test_a_name_someone_else_holds_is_not_used(tmp_path, squatter) -> None:
    uid = os.getuid()
    name = tmp_path / f"tmp-{uid}"
    if squatter == "link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        name.symlink_to(tmp_path / "elsewhere")
    elif squatter == "file":
        name.write_text("")
    elif squatter == "open folder":
        name.mkdir()
        name.chmod(0o777)
    else:
        name.mkdir(mode=0o700)
        uid += 1  # the folder is then another user's
    assert private_folder(tmp_path, uid) is None


def test_a_base_that_cannot_be_written_is_the_default(tmp_path) -> None:
    assert private_folder(tmp_path / "missing", os.getuid()) is None


def test_a_small_or_disk_backed_shm_leaves_the_default(tmp_path) -> None:
    uid = os.getuid()
    mounts = MOUNTS.replace("/dev/shm", str(tmp_path))
    assert choose(mounts, MIN_FREE_BYTES, uid, tmp_path) == tmp_path / f"tmp-{uid}"
    assert choose(mounts, MIN_FREE_BYTES - 1, uid, tmp_path) is None  # a container's 64 MB
    assert choose(MOUNTS, MIN_FREE_BYTES, uid, tmp_path) is None  # not a tmpfs there


def test_main_prints_a_folder_or_nothing(capsys) -> None:
    assert main() == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "" or Path(printed).is_dir()
