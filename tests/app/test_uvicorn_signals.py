"""The adapter over uvicorn's signal handling: the tested version passes, any other stops the
service at import with one line (before a SIGTERM could find the private API changed)."""

import re
import runpy
from pathlib import Path

import pytest
import uvicorn

from app import uvicorn_signals

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"


def test_the_pinned_version_is_the_tested_one() -> None:
    pins = dict(
        line.split("==", 1)
        for line in REQUIREMENTS.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins[uvicorn_signals.DISTRIBUTION] in uvicorn_signals.TESTED_VERSIONS
    uvicorn_signals.check_version()  # the installed one


def test_an_untested_version_stops_the_service_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn_signals.metadata, "version", lambda name: "0.99.0")
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module("app.main")
    message = str(stopped.value.code)
    assert "\n" not in message
    assert re.fullmatch(r"error: uvicorn 0\.99\.0 is untested .*\(tested: 0\.54\.0\).*", message)


def test_finds_uvicorns_server_through_its_handler_and_nothing_else() -> None:
    server = uvicorn.Server(uvicorn.Config("app.main:app"))
    assert uvicorn_signals.server_of(server.handle_exit) is server
    assert uvicorn_signals.server_of(print) is None
    assert uvicorn_signals.server_of(None) is None
    uvicorn_signals.stop(server)
    assert server.should_exit
