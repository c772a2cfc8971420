"""SLSA provenance v1 for the image the pipeline built: the predicate ``sign`` attests, and the
check ``deploy``, ``promote`` and ``check`` run on a signed attestation before any write. Pure.

The predicate (https://slsa.dev/spec/v1.0/provenance) says, for the in-toto statement whose
subject is the pushed digest (cosign fills the subject in):

- ``runDetails.builder.id``: this GitLab project's pipelines, ``<CI_PROJECT_URL>/-/pipelines``;
  ``runDetails.metadata.invocationId``: the pipeline that built it (``CI_PIPELINE_URL``).
- ``buildDefinition.externalParameters.source``: repository URL (``CI_PROJECT_URL``), ref and
  commit (``CI_COMMIT_SHA``); ``externalParameters.image``: the ``REGISTRY/NAME:TAG`` built.
- ``buildDefinition.resolvedDependencies``: the commit, as ``git+<repository>@<ref>`` with its
  ``gitCommit`` digest (the shape SLSA's own builders use).

No clock and no random value goes in: a retried ``sign`` job builds the same predicate.
What a verifier expects (``Expected``) comes from the verifying job's own project: the source
repository and builder must be this project's, the commit the one the tag names (tags are the
commit's short SHA), the subject the digest being written.
"""

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ci.errors import UsageError
from ci.gitlab import GitLabContext

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# The public key every write verifies with, committed on the gitops branch (``ci.trust``).
PUBLIC_KEY_PATH = "gitops/cosign.pub"
# The build this provenance describes: `python -m ci build` in this project's pipeline.
BUILD_TYPE = "https://docs.gitlab.com/ci/pipelines/#python-m-ci-build/v1"
# Overrides of what a verifier expects (a laptop has no CI_PROJECT_URL).
SOURCE_VARIABLE = "PROVENANCE_SOURCE_REPOSITORY"
BUILDER_VARIABLE = "PROVENANCE_BUILDER_ID"
FULL_SHA_LENGTH = 40


@dataclass(frozen=True)
class BuildFacts:
    """What the pipeline knows about one build: the provenance's content."""

    image: str  # REGISTRY/NAME:TAG
    digest: str
    source_repository: str
    commit: str
    ref: str
    builder_id: str
    invocation_id: str


@dataclass(frozen=True)
class Expected:
    """What a verified provenance must say about the image about to be written."""

    digest: str
    tag: str  # the commit's short SHA
    source_repository: str
    builder_id: str


def builder_id(project_url: str) -> str:
    return f"{normalized(project_url)}/-/pipelines"


def normalized(url: str) -> str:
    """A repository URL compared as people write it: no trailing slash, no ``.git``."""
    return url.strip().rstrip("/").removesuffix(".git")


def facts_from_gitlab(context: GitLabContext, image: str, digest: str) -> BuildFacts:
    """The running pipeline's facts about ``image`` (built by this pipeline's build job)."""
    missing = [
        name
        for name, value in (
            ("CI_PROJECT_URL", context.project_url),
            ("CI_COMMIT_SHA", context.commit_sha),
        )
        if not value
    ]
    if missing:
        raise UsageError(f"provenance needs GitLab's {' and '.join(missing)}: not set")
    return BuildFacts(
        image=image,
        digest=digest,
        source_repository=normalized(context.project_url),
        commit=context.commit_sha,
        ref=context.commit_ref_name,
        builder_id=builder_id(context.project_url),
        invocation_id=context.pipeline_url,
    )


def predicate(facts: BuildFacts) -> dict:
    """The SLSA provenance v1 predicate of ``facts`` (the statement's subject is the digest)."""
    ref = f"@{facts.ref}" if facts.ref else ""
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "source": {
                    "repository": facts.source_repository,
                    "ref": facts.ref,
                    "commit": facts.commit,
                },
                "image": facts.image,
            },
            "internalParameters": {"digest": facts.digest},
            "resolvedDependencies": [
                {
                    "uri": f"git+{facts.source_repository}{ref}",
                    "digest": {"gitCommit": facts.commit},
                }
            ],
        },
        "runDetails": {
            "builder": {"id": facts.builder_id},
            "metadata": {"invocationId": facts.invocation_id},
        },
    }


def expected_from(
    context: GitLabContext, environ: Mapping[str, str], digest: str, tag: str
) -> Expected:
    """What this project expects of ``tag``'s provenance; UsageError when it cannot tell."""
    source = environ.get(SOURCE_VARIABLE) or context.project_url
    if not source:
        raise UsageError(
            f"cannot check provenance: neither {SOURCE_VARIABLE} nor CI_PROJECT_URL is set"
        )
    builder = environ.get(BUILDER_VARIABLE) or builder_id(source)
    return Expected(digest, tag, normalized(source), builder)


def statements(envelopes: Iterable[Mapping]) -> list[dict]:
    """The in-toto statements inside DSSE envelopes (what ``cosign verify-attestation``
    prints, one per line); an undecodable payload is skipped."""
    found = []
    for envelope in envelopes:
        try:
            payload = json.loads(base64.b64decode(envelope.get("payload", ""), validate=True))
        except (binascii.Error, ValueError, TypeError):
            continue
        if isinstance(payload, dict):
            found.append(payload)
    return found


def mismatch(statement: Mapping, expected: Expected) -> str | None:
    """Why ``statement`` is not a provenance of the expected build, or None when it is."""
    if statement.get("predicateType") != PREDICATE_TYPE:
        return f"predicate type is {statement.get('predicateType')!r}, not {PREDICATE_TYPE}"
    hexdigest = expected.digest.removeprefix("sha256:")
    subjects = [s.get("digest", {}).get("sha256") for s in statement.get("subject") or []]
    if hexdigest not in subjects:
        return f"its subject is not {expected.digest}"
    body = statement.get("predicate") or {}
    source = body.get("buildDefinition", {}).get("externalParameters", {}).get("source", {})
    repository = normalized(str(source.get("repository", "")))
    if repository != expected.source_repository:
        return f"source repository is {repository!r}, not {expected.source_repository}"
    commit = str(source.get("commit", ""))
    if len(commit) != FULL_SHA_LENGTH or not commit.startswith(expected.tag):
        return f"commit is {commit!r}, not the commit of tag {expected.tag}"
    builder = body.get("runDetails", {}).get("builder", {}).get("id")
    if builder != expected.builder_id:
        return f"builder is {builder!r}, not {expected.builder_id}"
    return None


def first_mismatch(found: list[dict], expected: Expected) -> str | None:
    """None when one of the verified statements is the expected provenance; else why the
    first one is not (or that there is none)."""
    if not found:
        return "no SLSA provenance attestation"
    reasons = [mismatch(statement, expected) for statement in found]
    return None if None in reasons else reasons[0]
