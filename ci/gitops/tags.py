"""Validation of the names the user passes: image tags and environment names."""

import re

from ci.errors import UsageError

# The OCI distribution spec's tag grammar.
TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# An abbreviated or full git commit id, as the build tags images (CI_COMMIT_SHORT_SHA).
COMMIT_PATTERN = re.compile(r"[0-9a-f]{7,40}")
# An image manifest digest, as helm-chart/values.schema.json accepts it for image.digest.
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
# gitops/<env>/ folder names: no path tricks, no hidden folders.
ENV_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Folders under gitops/ that are not environments.
NOT_ENVIRONMENTS = frozenset({"argocd"})


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid OCI image tag, else raise UsageError (exit 2)."""
    if not TAG_PATTERN.fullmatch(tag or ""):
        raise UsageError(
            f"malformed image tag {tag!r}: expected 1-128 characters of [A-Za-z0-9_.-], "
            "not starting with '.' or '-'"
        )
    return tag


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is ``sha256:`` and 64 lowercase hex digits, else raise UsageError."""
    if not DIGEST_PATTERN.fullmatch(digest or ""):
        raise UsageError(f"malformed image digest {digest!r}: expected sha256: and 64 hex digits")
    return digest


# An OCI repository name, optionally with a registry host[:port] (the distribution spec's grammar;
# what helm-chart/values.schema.json accepts for image.repository).
REPOSITORY_PATTERN = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
)


def validate_repository(repository: str) -> str:
    """Return ``repository`` if it names an OCI repository (REGISTRY/NAME), else UsageError."""
    if len(repository) > 255 or not REPOSITORY_PATTERN.fullmatch(repository):
        shown = repository if len(repository) <= 80 else repository[:77] + "..."
        raise UsageError(
            f"--repository {shown!r} is not an OCI repository: expected REGISTRY[:PORT]/NAME in"
            " lower case, without a tag or digest"
        )
    return repository


def validate_env_name(env: str) -> str:
    if not ENV_PATTERN.fullmatch(env or "") or env in NOT_ENVIRONMENTS:
        raise UsageError(f"invalid environment name {env!r}")
    return env


def looks_like_commit(tag: str) -> bool:
    """Whether the tag could name a commit (the build tags images with the short SHA)."""
    return bool(COMMIT_PATTERN.fullmatch(tag))


def values_path(env: str) -> str:
    return f"gitops/{env}/values.yaml"


def environments_from_paths(paths: list[str]) -> list[str]:
    """The environments: folders ``gitops/<env>/`` holding a ``values.yaml``."""
    found = set()
    for path in paths:
        parts = path.split("/")
        if (
            len(parts) == 3
            and parts[0] == "gitops"
            and parts[2] == "values.yaml"
            and parts[1] not in NOT_ENVIRONMENTS
        ):
            found.add(parts[1])
    return sorted(found)
