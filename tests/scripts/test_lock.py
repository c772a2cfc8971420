"""scripts/lock.py: requirements.lock is fresh, and the pure parts that make and check it."""

import re
import subprocess
import sys

import pytest

from scripts import lock
from scripts.lock import Pin
from tests.support.server import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements.txt"
LOCK = REPO_ROOT / "requirements.lock"
HASH_A, HASH_B = "a" * 64, "b" * 64


def test_the_lock_is_fresh():
    """Fails when requirements.txt changed and `make lock` was not run (no network needed)."""
    assert lock.stale_reasons(REQUIREMENTS.read_text(), LOCK.read_text()) == []


def test_the_lock_pins_every_package_with_a_hash():
    digest, pins = lock.parse_lock(LOCK.read_text())
    assert digest == lock.requirements_digest(REQUIREMENTS.read_text())
    assert set(lock.top_level_pins(REQUIREMENTS.read_text())) < set(pins)
    assert all(pin.hashes for pin in pins.values())


REQUIREMENTS_TEXT = "# the service\nfastapi==1.0  # web\nuvloop==2.0\n"
LOCK_TEXT = lock.render(
    {
        "fastapi": Pin("1.0", {HASH_A}),
        "uvloop": Pin("2.0", {HASH_A, HASH_B}),
        "anyio": Pin("4.0", {HASH_B}),
    },
    lock.requirements_digest(REQUIREMENTS_TEXT),
)


@pytest.mark.parametrize(
    ("requirements", "reasons"),
    [
        (REQUIREMENTS_TEXT, []),
        ("# a new comment\n" + REQUIREMENTS_TEXT + "\n# another\n", []),
        (
            REQUIREMENTS_TEXT.replace("uvloop==2.0", "uvloop==2.1"),
            ["requirements.txt changed since the lock was written", "uvloop==2.1 is locked as 2.0"],
        ),
        (
            REQUIREMENTS_TEXT + "orjson==3.0\n",
            [
                "requirements.txt changed since the lock was written",
                "orjson==3.0 is locked as nothing",
            ],
        ),
    ],
)
def test_stale_reasons(requirements, reasons):
    assert lock.stale_reasons(requirements, LOCK_TEXT) == reasons


def test_render_and_parse_round_trip():
    digest, pins = lock.parse_lock(LOCK_TEXT)
    assert digest == lock.requirements_digest(REQUIREMENTS_TEXT)
    assert pins == {
        "anyio": Pin("4.0", {HASH_B}),
        "fastapi": Pin("1.0", {HASH_A}),
        "uvloop": Pin("2.0", {HASH_A, HASH_B}),
    }
    assert LOCK_TEXT.splitlines()[-3:] == [
        "uvloop==2.0 \\",
        f"    --hash=sha256:{HASH_A} \\",
        f"    --hash=sha256:{HASH_B}",
    ]


def test_merge_unites_the_hashes_of_every_platform():
    x86 = {"uvloop": Pin("2.0", {HASH_A}), "anyio": Pin("4.0", {HASH_B})}
    arm = {"uvloop": Pin("2.0", {HASH_B}), "anyio": Pin("4.0", {HASH_B})}
    assert lock.merge([x86, arm]) == {
        "uvloop": Pin("2.0", {HASH_A, HASH_B}),
        "anyio": Pin("4.0", {HASH_B}),
    }
    with pytest.raises(
        lock.LockError, match=re.escape("uvloop resolves to 2.0 and 2.1 by platform")
    ):
        lock.merge([x86, {**arm, "uvloop": Pin("2.1", {HASH_B})}])
    with pytest.raises(lock.LockError, match="different sets of packages"):
        lock.merge([x86, {"uvloop": Pin("2.0", {HASH_B})}])


def test_pins_from_a_pip_report():
    report = {
        "install": [
            {
                "metadata": {"name": "Typing_Extensions", "version": "4.16.0"},
                "download_info": {"url": "u", "archive_info": {"hashes": {"sha256": HASH_A}}},
            }
        ]
    }
    assert lock.pins_from_report(report) == {"typing-extensions": Pin("4.16.0", {HASH_A})}
    report["install"][0]["download_info"]["archive_info"] = {}
    with pytest.raises(lock.LockError, match="pip reported no sha256 for u"):
        lock.pins_from_report(report)


def test_platforms_cover_bookworm_glibc_down_to_manylinux2014():
    x86 = lock.platforms("x86_64")
    assert x86[0] == "manylinux_2_36_x86_64"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"} <= set(x86)
    assert lock.platforms("aarch64")[-1] == "manylinux2014_aarch64"


def test_pin_base_image_keeps_the_name_and_replaces_a_digest():
    digest = "sha256:" + "c" * 64
    text = "# base\nARG BASE_IMAGE=python:3.11-slim-bookworm\nFROM ${BASE_IMAGE}\n"
    pinned = lock.pin_base_image(text, digest)
    assert pinned == text.replace("bookworm\n", f"bookworm@{digest}\n", 1)
    assert lock.pin_base_image(pinned, "sha256:" + "d" * 64).count("@sha256:") == 1
    with pytest.raises(lock.LockError, match=re.escape("no `ARG BASE_IMAGE=...` line")):
        lock.pin_base_image("FROM python\n", digest)


@pytest.mark.long
@pytest.mark.integration
def test_resolving_again_changes_nothing():
    """pip resolves requirements.txt against the package index (PyPI) for every platform."""
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "lock.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "requirements.lock is up to date with requirements.txt\n"
