"""``ci.gitops.message``: commit messages and their trailers."""

from dataclasses import replace

from app import SERVICE_NAME
from ci.gitlab import GitLabContext
from ci.gitops.message import Change, commit_message, parse_trailers, with_trailer


def test_message_subject_body_and_trailers():
    change = Change(
        action="deploy",
        env="dev",
        service=SERVICE_NAME,
        tag="abc12345",
        previous="0.0.0-bootstrap",
        path="gitops/dev/values.yaml",
        source_commit="abc12345" + "0" * 32,
        own_build=True,
    )
    context = GitLabContext(
        pipeline_url="https://gitlab.example/p/-/pipelines/1",
        user_login="alice",
        user_email="alice@example.com",
    )
    message = commit_message(change, context)
    assert message == (
        f"deploy(dev): {SERVICE_NAME} abc12345 [skip ci]\n"
        "\n"
        "Set image.tag in gitops/dev/values.yaml from 0.0.0-bootstrap to abc12345.\n"
        "\n"
        f"Source-Commit: abc12345{'0' * 32}\n"
        "Pipeline: https://gitlab.example/p/-/pipelines/1\n"
        "Triggered-By: alice <alice@example.com>\n"
    )
    assert parse_trailers(message)["Triggered-By"] == "alice <alice@example.com>"
    assert commit_message(change, GitLabContext()).count("\n\n") == 2
    # Another pipeline's build: the running pipeline is named, not credited with the build.
    other = parse_trailers(commit_message(replace(change, own_build=False), context))
    assert "Pipeline" not in other
    assert other["Run-By-Pipeline"] == "https://gitlab.example/p/-/pipelines/1"


def test_a_trailer_joins_the_trailer_block_or_starts_one():
    assert with_trailer("s\n\nbody\n", "K", "v") == "s\n\nbody\n\nK: v\n"
    assert with_trailer("s\n\nbody\n\nA: b\n", "K", "v") == "s\n\nbody\n\nA: b\nK: v\n"
