"""The adapter over helm-python-sdk's private render call: the tested version renders, any other
is refused with one line before the private API is touched."""

import re

import pytest

from ci import chart
from ci.chart import helm_sdk
from ci.errors import CiError
from tests.chart.conftest import REPO_ROOT


@pytest.fixture
def installed_version(monkeypatch: pytest.MonkeyPatch):
    """Pretend another helm-python-sdk is installed (the adapter's check cache reset around it)."""

    def pretend(version: str) -> None:
        monkeypatch.setattr(helm_sdk.metadata, "version", lambda name: version)

    helm_sdk._checked.cache_clear()
    yield pretend
    helm_sdk._checked.cache_clear()


def test_the_pinned_version_is_the_tested_one() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (REPO_ROOT / "requirements.dev.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins[helm_sdk.DISTRIBUTION] in helm_sdk.TESTED_VERSIONS


def test_the_tested_version_renders_with_capabilities(installed_version) -> None:
    installed_version(helm_sdk.TESTED_VERSIONS[0])
    docs = chart.render_env("dev", api_versions=["monitoring.coreos.com/v1"])
    assert any(doc["kind"] == "Deployment" for doc in docs)


def test_an_untested_version_is_refused_in_one_line(installed_version) -> None:
    installed_version("0.3.0")
    with pytest.raises(CiError) as refused:
        chart.render_env("dev")
    message = str(refused.value)
    assert "\n" not in message
    assert re.fullmatch(r"helm-python-sdk 0\.3\.0 is untested .*\(tested: 0\.2\.2\).*", message)
