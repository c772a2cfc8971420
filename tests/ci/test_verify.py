"""``ci.verify``: the service's health URL from its base URL, and durations as seconds (pure).
Waiting for a version is tested as users run it, ``python -m ci verify-deploy`` against the real
service: tests/ci/commands/test_verify_deploy.py."""

import argparse

import pytest

from ci.errors import UsageError
from ci.verify import health_url, positive_float


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://dev.example.com", "https://dev.example.com/-/health"),
        ("https://dev.example.com/", "https://dev.example.com/-/health"),
        ("http://example.com/svc/", "http://example.com/svc/-/health"),
    ],
)
def test_health_url(base: str, expected: str) -> None:
    assert health_url(base) == expected


def test_health_url_rejects_a_bare_host() -> None:
    with pytest.raises(UsageError):
        health_url("dev.example.com")


def test_positive_float_parses_seconds() -> None:
    assert positive_float("2.5") == 2.5


@pytest.mark.parametrize("text", ["nan", "inf", "1e400", "-1", "0", "x"])
def test_positive_float_refuses_what_is_not_a_finite_positive_duration(text) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive number of seconds"):
        positive_float(text)
