"""ci.provenance: the SLSA provenance predicate, and its check before a write (pure)."""

import base64
import json

import pytest

from app import SERVICE_NAME
from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.provenance import (
    PREDICATE_TYPE,
    Expected,
    expected_from,
    facts_from_gitlab,
    first_mismatch,
    mismatch,
    predicate,
    statements,
)

SOURCE = f"https://gitlab.example.com/group/{SERVICE_NAME}"
COMMIT = "0123abcd" + "e" * 32
DIGEST = "sha256:" + "a" * 64
IMAGE = f"registry.example.com/{SERVICE_NAME}:0123abcd"
CONTEXT = GitLabContext(
    project_url=SOURCE,
    commit_sha=COMMIT,
    commit_ref_name="main",
    pipeline_url=f"{SOURCE}/-/pipelines/42",
)
EXPECTED = Expected(DIGEST, "0123abcd", SOURCE, f"{SOURCE}/-/pipelines")


def statement(body: dict | None = None, digest: str = DIGEST, kind: str = PREDICATE_TYPE) -> dict:
    """An in-toto statement as cosign attests it (subject: the image digest)."""
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": kind,
        "subject": [{"name": IMAGE, "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicate": body
        if body is not None
        else predicate(facts_from_gitlab(CONTEXT, IMAGE, DIGEST)),
    }


def test_the_predicate_names_builder_source_commit_and_image() -> None:
    body = predicate(facts_from_gitlab(CONTEXT, IMAGE, DIGEST))
    assert body["runDetails"] == {
        "builder": {"id": f"{SOURCE}/-/pipelines"},
        "metadata": {"invocationId": f"{SOURCE}/-/pipelines/42"},
    }
    definition = body["buildDefinition"]
    assert definition["externalParameters"] == {
        "source": {"repository": SOURCE, "ref": "main", "commit": COMMIT},
        "image": IMAGE,
    }
    assert definition["resolvedDependencies"] == [
        {"uri": f"git+{SOURCE}@main", "digest": {"gitCommit": COMMIT}}
    ]
    # No clock, nothing random: a retried sign job makes the same predicate.
    assert body == predicate(facts_from_gitlab(CONTEXT, IMAGE, DIGEST))


def test_facts_need_the_project_and_the_commit() -> None:
    with pytest.raises(UsageError) as raised:
        facts_from_gitlab(GitLabContext(), IMAGE, DIGEST)
    assert (
        str(raised.value) == "provenance needs GitLab's CI_PROJECT_URL and CI_COMMIT_SHA: not set"
    )


def test_the_expected_provenance_of_the_project_that_verifies() -> None:
    assert expected_from(CONTEXT, {}, DIGEST, "0123abcd") == EXPECTED
    other = expected_from(
        GitLabContext(),
        {"PROVENANCE_SOURCE_REPOSITORY": SOURCE + ".git/", "PROVENANCE_BUILDER_ID": "b"},
        DIGEST,
        "0123abcd",
    )
    assert other == Expected(DIGEST, "0123abcd", SOURCE, "b")
    with pytest.raises(UsageError, match="neither PROVENANCE_SOURCE_REPOSITORY nor CI_PROJE"):
        expected_from(GitLabContext(), {}, DIGEST, "0123abcd")


def edited(path: tuple[str, ...], value) -> dict:
    body = predicate(facts_from_gitlab(CONTEXT, IMAGE, DIGEST))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return statement(body)


SOURCE_KEYS = ("buildDefinition", "externalParameters", "source")
MISMATCHES = [
    ("matches", statement(), None),
    ("another predicate type", statement(kind="https://cyclonedx.org/bom"), "predicate type"),
    ("another digest", statement(digest="sha256:" + "b" * 64), f"its subject is not {DIGEST}"),
    (
        "another repository",
        edited((*SOURCE_KEYS, "repository"), "https://gitlab.example.com/evil/fork"),
        f"source repository is 'https://gitlab.example.com/evil/fork', not {SOURCE}",
    ),
    (
        "the same repository as people write it",
        edited((*SOURCE_KEYS, "repository"), SOURCE + ".git"),
        None,
    ),
    (
        "another commit",
        edited((*SOURCE_KEYS, "commit"), "f" * 40),
        f"commit is '{'f' * 40}', not the commit of tag 0123abcd",
    ),
    ("a short commit", edited((*SOURCE_KEYS, "commit"), "0123abcd"), "commit is '0123abcd'"),
    (
        "another builder",
        edited(("runDetails", "builder", "id"), "https://ci.example.com"),
        f"builder is 'https://ci.example.com', not {SOURCE}/-/pipelines",
    ),
    ("no predicate", statement({}), "source repository is ''"),
]


@pytest.mark.parametrize(("name", "found", "why"), MISMATCHES, ids=[row[0] for row in MISMATCHES])
def test_a_provenance_is_checked_against_the_expected_build(name, found, why) -> None:
    reason = mismatch(found, EXPECTED)
    if why is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason.startswith(why), reason


def envelope(payload: dict | bytes) -> dict:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(data).decode(),
    }


def test_statements_are_read_from_dsse_envelopes() -> None:
    good = statement()
    found = statements([envelope(good), envelope(b"not json"), {"payload": "%%%"}, envelope([1])])
    assert found == [good]


def test_one_matching_provenance_among_several_is_enough() -> None:
    other = edited((*SOURCE_KEYS, "commit"), "f" * 40)
    assert first_mismatch([other, statement()], EXPECTED) is None
    assert first_mismatch([other], EXPECTED).startswith("commit is")
    assert first_mismatch([], EXPECTED) == "no SLSA provenance attestation"
