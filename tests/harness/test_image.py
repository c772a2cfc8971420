"""``harness.image``, what the image tests and the benchmark build with: buildah on vfs storage
with chroot isolation unless the environment says otherwise, a private storage (the one test that
runs buildah), the base image's cache under XDG_CACHE_HOME, the host files pip needs mounted
read-only when present."""

import os
import subprocess
from pathlib import Path

import pytest

from app import SERVICE_NAME
from harness.image import (
    HOST_PIP_FILES,
    buildah,
    cache_dir,
    host_build_volumes,
    private_storage,
    tool_env,
)
from tests.support.tools import require_tools


def test_buildah_defaults_to_vfs_and_chroot_unless_set(monkeypatch) -> None:
    monkeypatch.delenv("STORAGE_DRIVER", raising=False)
    monkeypatch.delenv("BUILDAH_ISOLATION", raising=False)
    assert buildah("images") == ["buildah", "--storage-driver", "vfs", "images"]
    env = tool_env()
    assert (env["STORAGE_DRIVER"], env["BUILDAH_ISOLATION"]) == ("vfs", "chroot")
    assert "/usr/sbin" in env["PATH"].split(":")  # debootstrap lives there on Debian
    monkeypatch.setenv("STORAGE_DRIVER", "overlay")
    monkeypatch.setenv("BUILDAH_ISOLATION", "rootless")
    assert buildah("images")[:3] == ["buildah", "--storage-driver", "overlay"]
    assert tool_env()["BUILDAH_ISOLATION"] == "rootless"


def test_the_cache_is_the_services_folder_under_xdg_cache_home(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / SERVICE_NAME
    assert (tmp_path / SERVICE_NAME).is_dir()


def test_only_host_files_that_exist_are_mounted_read_only_at_their_own_path() -> None:
    for volume in host_build_volumes():
        source, target, mode = volume.split(":")
        assert (source, mode) == (target, "ro")
        assert source in HOST_PIP_FILES
        assert Path(source).is_file()


@pytest.mark.integration
def test_a_private_storage_is_buildahs_until_it_is_removed(monkeypatch, tmp_path) -> None:
    """Inside, buildah (and what it is run from) sees an empty storage under the folder; after,
    the environment is as it was and the storage is gone."""
    require_tools("buildah")
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", "/elsewhere/storage.conf")
    monkeypatch.delenv("STORAGE_DRIVER", raising=False)
    with private_storage(tmp_path / "buildah"):
        assert os.environ["CONTAINERS_STORAGE_CONF"] == str(tmp_path / "buildah" / "storage.conf")
        assert buildah("images")[:3] == ["buildah", "--storage-driver", "vfs"]
        listed = subprocess.run(
            buildah("images", "--quiet"), env=tool_env(), capture_output=True, text=True
        )
        assert (listed.returncode, listed.stdout) == (0, "")
        assert (tmp_path / "buildah" / "storage").is_dir()
    assert os.environ["CONTAINERS_STORAGE_CONF"] == "/elsewhere/storage.conf"
    assert "STORAGE_DRIVER" not in os.environ
    assert sorted(p.name for p in (tmp_path / "buildah").iterdir()) == ["storage.conf"]
