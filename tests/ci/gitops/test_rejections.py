"""``ci.gitops.rejections``: the rejected builds, text in and text out: what a rejection refuses
(a tag whatever its digest, a digest whatever its tag), the refusal's one line, odd files as one
ValuesError naming the file and entry."""

import pytest

from ci.gitops.rejections import (
    REJECTED_FILE,
    Rejection,
    format_rejections,
    parse_rejections,
    reference_parts,
    refusal,
    rejecting,
)
from ci.gitops.values import ValuesError

DIGEST, OTHER = "sha256:" + "1" * 64, "sha256:" + "2" * 64
BY_DIGEST = Rejection("abc1234", DIGEST, "failed verification", "alice", "2026-01-02T03:04:05Z")
BY_TAG = Rejection("def5678", None, "broken by hand", "bob <bob@x>", "2026-01-03T00:00:00Z")


@pytest.mark.parametrize(
    ("tag", "digest", "found"),
    [
        ("abc1234", None, BY_DIGEST),  # the tag, digest unknown
        ("abc1234", OTHER, BY_DIGEST),  # the tag, whatever its digest
        ("renamed", DIGEST, BY_DIGEST),  # the digest, whatever its tag
        ("def5678", OTHER, BY_TAG),
        ("def5678", None, BY_TAG),
        ("renamed", OTHER, None),
        ("renamed", None, None),
        (None, None, None),  # an image without a tag (by digest only) and no digest
    ],
)
def test_what_a_rejection_refuses(tag, digest, found) -> None:
    assert rejecting((BY_DIGEST, BY_TAG), tag, digest) == found


def test_the_refusal_names_who_when_why_and_how_to_undo_it() -> None:
    assert refusal(BY_DIGEST, "abc1234") == (
        f"abc1234@{DIGEST} is rejected by alice since 2026-01-02T03:04:05Z: failed verification:"
        " nothing pushed; `python -m ci unreject --tag abc1234 --reason TEXT` allows it again"
    )
    assert refusal(BY_DIGEST, "renamed").startswith(
        f"renamed is the same build: abc1234@{DIGEST} is rejected by alice"
    )


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("registry.example/acme/shop:abc1234", ("abc1234", None)),
        (f"registry.example:5000/acme/shop:abc1234@{DIGEST}", ("abc1234", DIGEST)),
        (f"registry.example:5000/acme/shop@{DIGEST}", (None, DIGEST)),
        ("registry.example:5000/shop", (None, None)),
        ("shop:v1", ("v1", None)),
    ],
)
def test_the_tag_and_digest_of_an_image_reference(reference, parts) -> None:
    assert reference_parts(reference) == parts


@pytest.mark.parametrize("rejections", [(), (BY_DIGEST,), (BY_DIGEST, BY_TAG)])
def test_the_file_round_trips(rejections) -> None:
    text = format_rejections(rejections)
    assert "Argo CD does not read this file" in text
    assert parse_rejections(text) == rejections
    assert parse_rejections(text.replace("\n", "\r\n")) == rejections


def test_nothing_rejected() -> None:
    for text in (None, "", "# none\n", "rejected:\n", "rejected: []\n", '{"rejected": []}'):
        assert parse_rejections(text) == ()


def test_json_is_yaml_and_whitespace_is_one_space() -> None:
    text = '{"rejected": [{"tag": "abc1234", "reason": " two\\n lines ", "by": "a", "since": "s"}]}'
    assert parse_rejections(text) == (Rejection("abc1234", None, "two lines", "a", "s"),)


def test_a_reason_beyond_the_bmp_and_quotes_round_trips() -> None:
    odd = Rejection("abc1234", None, 'said "no" \U0001f600 \\ done', "ann", "now")
    assert parse_rejections(format_rejections([odd])) == (odd,)


ENTRY = '  - tag: "abc1234"\n    reason: "r"\n    by: "b"\n    since: "s"\n'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rejected: [", "not valid YAML"),
        ("rejected:\n" + ENTRY + "    tag: again\n", "not valid YAML"),
        ("- abc1234\n", "expected a mapping with one key, 'rejected'"),
        ("abc1234\n", "expected a mapping with one key, 'rejected'"),
        ("rejected: []\nmore: 1\n", "expected a mapping with one key, 'rejected'"),
        ("rejected: {}\n", "'rejected' must be a list"),
        ("rejected: abc1234\n", "'rejected' must be a list"),
        ("rejected:\n  - abc1234\n", "rejected[0]: expected a mapping with tag, reason, by, since"),
        ("rejected:\n" + ENTRY + "    digets: x\n", "rejected[0]: unknown key 'digets'"),
        ("rejected:\n" + ENTRY.replace('"abc1234"', '""'), "rejected[0]: 'tag' is missing"),
        ("rejected:\n" + ENTRY.replace('"r"', "null"), "rejected[0]: 'reason' is missing"),
        ("rejected:\n" + ENTRY.replace('"b"', '"  "'), "'by' must be a non-empty string"),
        ("rejected:\n" + ENTRY.replace('"s"', "2026-01-02"), "'since' must be a non-empty str"),
        ("rejected:\n" + ENTRY.replace('"abc1234"', "1234567"), "'tag' must be a non-empty str"),
        ("rejected:\n" + ENTRY.replace('"abc1234"', '"a/b"'), "'tag' must be an image tag"),
        ("rejected:\n" + ENTRY + "    digest: sha256:1\n", "'digest' must be sha256: and 64"),
        ("rejected:\n" + ENTRY + "    digest: [x]\n", "'digest' must be a non-empty string"),
        ("rejected:\n" + ENTRY + "    '': x\n", "rejected[0]: unknown key ''"),
    ],
)
def test_an_odd_file_is_one_error_naming_the_file_and_entry(text, error) -> None:
    with pytest.raises(ValuesError) as raised:
        parse_rejections(text)
    assert str(raised.value).startswith(f"{REJECTED_FILE}: ")
    assert error in str(raised.value)
