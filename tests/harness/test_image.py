"""``harness.image``, what the image tests and the benchmark build with (no program runs here):
buildah on vfs storage with chroot isolation unless the environment says otherwise, the base
image's cache under XDG_CACHE_HOME, the host files pip needs mounted read-only when present."""

from pathlib import Path

from app import SERVICE_NAME
from harness.image import HOST_PIP_FILES, buildah, cache_dir, host_build_volumes, tool_env


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
