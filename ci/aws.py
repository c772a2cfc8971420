"""AWS in the pipeline: credentials (GitLab's OIDC ID token first, static keys as the fallback)
and the settings of the ECR repositories ``python -m ci build`` creates.

A job with ``id_tokens: {GITLAB_OIDC_TOKEN: ...}`` gets a signed JWT in that variable; the AWS SDK
reads a web identity token from a file. ``use_gitlab_oidc()`` writes the token to a private file
and sets ``AWS_WEB_IDENTITY_TOKEN_FILE``, so boto3 itself calls sts:AssumeRoleWithWebIdentity for
``$AWS_ROLE_ARN`` (and refreshes it). Without the role or the token it changes nothing, and
static ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` apply; when both are set, the SDK's own
order puts the static keys first.

Repositories: the image's tags are commit SHAs and immutable, except cosign's: it keeps a digest's
signatures and attestations under ``sha256-<hex>.sig`` and ``sha256-<hex>.att`` and re-pushes that
tag to add one (the provenance, then the SBOM), so those tags stay mutable
(``IMMUTABLE_WITH_EXCLUSION``). Creating a repository is the only time these apply: an existing
one keeps its settings (docs/operations.md, "ECR and the OIDC role").
"""

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

TOKEN_VARIABLE = "GITLAB_OIDC_TOKEN"

# ECR's WILDCARD filter ("*" matches any run of characters): cosign's tags for a digest.
SIGNATURE_TAGS = "sha256-*"
_SCAN_AND_ENCRYPT = {
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfiguration": {"encryptionType": "AES256"},
}
# The image's repository: no tag can be moved to another build, signatures can be added.
IMAGE_REPOSITORY_SETTINGS = {
    **_SCAN_AND_ENCRYPT,
    "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
    "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": SIGNATURE_TAGS}],
}
# buildah's layer cache (BUILD_CACHE) is re-pushed under the same tags: mutable, no filters
# (ECR accepts exclusion filters only with the *_WITH_EXCLUSION settings).
CACHE_REPOSITORY_SETTINGS = {**_SCAN_AND_ENCRYPT, "imageTagMutability": "MUTABLE"}


def use_gitlab_oidc(
    environ: MutableMapping[str, str] | None = None, directory: str | None = None
) -> Path | None:
    """Point the AWS SDK at the job's ID token; return the token file, or None if not in use."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_VARIABLE, "").strip()
    if not token or not env.get("AWS_ROLE_ARN") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return None
    fd, name = tempfile.mkstemp(prefix="gitlab-oidc-", suffix=".jwt", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = name
    return Path(name)
