"""Log lines: text and JSON formats, and the optional access log."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.application import create_app
from app.logs import ACCESS_LOGGER, configure_logging
from app.settings import get_settings
from tests.app.asgi import call
from tests.app.conftest import HOST


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ("app", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (lg.handlers[:], lg.propagate, lg.level)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_json_format_logs_one_object_per_line_with_access_fields() -> None:
    stream = io.StringIO()
    settings = get_settings({"APP_LOG_FORMAT": "json", "APP_ACCESS_LOG": "true"})
    configure_logging(settings, stream)
    app = create_app(settings, host=HOST)
    call(app, "/api/echo", b"text=secret")
    call(app, "/nope")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["logger"], e["method"], e["path"], e["status"]) for e in lines[:2]] == [
        (ACCESS_LOGGER, "GET", "/api/echo", 200),
        (ACCESS_LOGGER, "GET", "/nope", 404),
    ]
    assert lines[2]["message"] == "Started server process [42]"
    assert {e["level"] for e in lines} == {"info"}
    assert "secret" not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_text_format_and_access_log_off_by_default() -> None:
    stream = io.StringIO()
    settings = get_settings({})
    configure_logging(settings, stream)
    call(create_app(settings, host=HOST), "/-/health")
    logging.getLogger("app.test").warning("something %s", "happened")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(" WARNING app.test: something happened")


@pytest.mark.usefixtures("restore_logging")
def test_uvicorn_access_log_is_replaced() -> None:
    configure_logging(get_settings({}), io.StringIO())
    assert not logging.getLogger("uvicorn.access").hasHandlers()
