"""AWS credentials in the pipeline: GitLab's OIDC ID token first, static keys as the fallback.

A job with ``id_tokens: {GITLAB_OIDC_TOKEN: ...}`` gets a signed JWT in that variable; the AWS SDK
reads a web identity token from a file. ``use_gitlab_oidc()`` writes the token to a private file
and sets ``AWS_WEB_IDENTITY_TOKEN_FILE``, so boto3 itself calls sts:AssumeRoleWithWebIdentity for
``$AWS_ROLE_ARN`` (and refreshes it). Without the role or the token it changes nothing, and
static ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` apply; when both are set, the SDK's own
order puts the static keys first.
"""

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

TOKEN_VARIABLE = "GITLAB_OIDC_TOKEN"


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
