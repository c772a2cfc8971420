"""``app.echo``: the query decoding of GET /api/echo, on raw query strings as uvicorn hands them
over (pure). What a well-formed query asks to echo, or None where FastAPI answers instead (missing,
too long, badly encoded); why a query is not percent-encoded UTF-8 (RFC 3986)."""

import pytest

from app.echo import BAD_ENCODING, echo_text, encoding_error, render_echo

TEXTS = [
    (b"text=hello", "hello"),
    (b"text=", ""),
    (b"text", ""),
    (b"text=a+b%20c", "a b c"),
    (b"text=%26%3D%3F", "&=?"),
    (b"text=a=b", "a=b"),
    (b"text=%F0%9F%98%80", "\N{GRINNING FACE}"),
    (b"text=first&text=last", "last"),
    (b"other=1&text=x", "x"),
    (b"te%78t=x", "x"),
]


@pytest.mark.parametrize(("query", "text"), TEXTS)
def test_the_last_text_parameter_is_echoed_decoded(query: bytes, text: str) -> None:
    assert echo_text(query, max_length=64) == text


@pytest.mark.parametrize("query", [b"", b"other=1", b"texts=x", b"text=%FF", b"text=%zz"])
def test_a_missing_or_badly_encoded_text_is_left_to_fastapi(query: bytes) -> None:
    assert echo_text(query, max_length=64) is None


def test_the_length_limit_counts_characters_after_decoding() -> None:
    assert echo_text(b"text=" + b"%C3%A9" * 4, max_length=4) == "\u00e9" * 4
    assert echo_text(b"text=abcde", max_length=4) is None
    assert echo_text(b"text=a%20cde", max_length=4) is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (b"text=caf\xc3\xa9", "raw non-ASCII bytes"),
        (b"text=%zz", "'%' must be followed by two hex digits"),
        (b"text=%4", "'%' must be followed by two hex digits"),
        (b"text=%FF%FE", "escapes do not decode as UTF-8"),
    ],
)
def test_why_a_query_is_not_percent_encoded_utf8(query: bytes, reason: str) -> None:
    assert encoding_error(query) == f"{BAD_ENCODING}: {reason}"


@pytest.mark.parametrize("query", [b"", b"text=x", b"text=%C3%A9&a=%20"])
def test_a_well_formed_query_has_no_encoding_error(query: bytes) -> None:
    assert encoding_error(query) is None


def test_the_answer_is_the_text_as_json() -> None:
    assert render_echo('"\u00e9\\') == b'{"text":"\\"\xc3\xa9\\\\"}'
