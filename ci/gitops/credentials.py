"""Credentials for git, and what git may see: the remote URL without its user-info, the push
credentials from the environment (GITOPS_TOKEN, the URL's, the job token), redaction of
anything secret from output, and the environment git inherits (no credential meant for another
host). The values reach git only through its environment and the credential helper, never argv.
"""

import re
import subprocess
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci.errors import UsageError
from ci.gitlab import GitLabContext

# RFC 3986 user-info: unreserved, percent-encoded, sub-delims and ":".
USERINFO_CHARS = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*")
SCHEMES = ("http", "https", "git", "ssh", "file")
USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without URL user-info and without any of ``secrets``."""
    text = USERINFO.sub(r"\g<scheme>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def normalize_url(repo: str) -> tuple[str, Credentials | None]:
    """A clean URL for ``repo`` (a path becomes ``file://``) and the credentials it embedded.

    User-info must be percent-encoded (any character then works); a malformed one is refused
    with a message that does not repeat it.
    """
    if "://" not in repo and not re.match(r"^[^/]+@[^/:]+:", repo):
        # A local path: file:// so that the partial-clone filter is honoured.
        return Path(repo).expanduser().resolve().as_uri(), None
    if "://" not in repo:
        return repo, None  # scp-like user@host:path (ssh)
    scheme, _, rest = repo.partition("://")
    if scheme.lower() not in SCHEMES:
        raise UsageError(
            f"--repo: unsupported URL scheme {scheme[:20]!r} (use {', '.join(SCHEMES)})"
        )
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, hostport = authority.rpartition("@")
    if not at and "@" in rest and not _valid_hostport(hostport, scheme):
        # e.g. https://user:pa#ss@host/: the password holds a character that ends the authority.
        raise UsageError(_MALFORMED_USERINFO)
    if at and not USERINFO_CHARS.fullmatch(userinfo):
        raise UsageError(_MALFORMED_USERINFO)
    if not _valid_hostport(hostport, scheme):
        raise UsageError(
            f"--repo: invalid host or port in the {scheme} URL (host: {_host_hint(hostport)})"
        )
    if not at:
        return repo, None
    return _split_userinfo(repo, scheme, userinfo, hostport, rest[len(authority) :])


def _split_userinfo(
    repo: str, scheme: str, userinfo: str, hostport: str, tail: str
) -> tuple[str, Credentials | None]:
    """The URL without its user-info, and the credentials it held (HTTP(S) only)."""
    if scheme.lower() not in ("http", "https"):
        if ":" in userinfo:
            # git would get it in argv: only HTTPS passes a password through the helper.
            raise UsageError(
                f"--repo: a password in a {scheme} URL is not supported (not shown); use an"
                " https URL or GITOPS_TOKEN"
            )
        return repo, None  # ssh://user@host: the user name is not a secret
    username, _, password = userinfo.partition(":")
    clean = f"{scheme}://{hostport}{tail}"
    try:
        user = urllib.parse.unquote(username, errors="strict")
        secret = urllib.parse.unquote(password, errors="strict")
    except UnicodeDecodeError:
        raise UsageError(_MALFORMED_USERINFO) from None
    if not secret:
        return clean, None
    return clean, checked_credentials(user, secret, "the --repo URL's password")


_MALFORMED_USERINFO = (
    "--repo: the URL's user:password part is malformed (not shown); percent-encode reserved"
    " characters such as @ : / # ? % and spaces, or pass the token in GITOPS_TOKEN"
)


def _valid_hostport(hostport: str, scheme: str) -> bool:
    if scheme.lower() == "file":
        return True
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::(\d*))?", hostport)
    if not match:
        return False
    port = match.group(2)
    return port is None or port == "" or 1 <= int(port) <= 65535


def _host_hint(hostport: str) -> str:
    """The host part for an error message, only when it is plainly a host name."""
    host = hostport.rsplit(":", 1)[0]
    return host if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host) else "not shown"


def checked_credentials(username: str, password: str, what: str) -> Credentials:
    """Credentials git's credential protocol can carry (no newline or NUL); never echoed."""
    for value, name in ((username, "user name"), (password, what)):
        if any(char in value for char in "\n\r\0"):
            raise UsageError(f"{name} contains a newline or NUL character (not shown)")
    return Credentials(username, password)


def credentials_from_environ(
    environ: Mapping[str, str], embedded: Credentials | None = None
) -> Credentials | None:
    """Push credentials: ``GITOPS_TOKEN`` (access token), else the URL's, else the job token."""
    token = environ.get("GITOPS_TOKEN", "")
    if token:
        return checked_credentials(
            environ.get("GITOPS_USERNAME") or "oauth2", token, "GITOPS_TOKEN"
        )
    if embedded:
        return embedded
    job_token = GitLabContext.from_environ(environ).job_token
    if job_token:
        return checked_credentials("gitlab-ci-token", job_token, "CI_JOB_TOKEN")
    return None


def default_repo(environ: Mapping[str, str], cwd: str | None = None) -> str | None:
    """In GitLab the project's HTTPS URL (port and sub-path of a self-hosted server kept), else
    this checkout's ``origin``."""
    context = GitLabContext.from_environ(environ)
    if context.project_url:
        return context.project_url.rstrip("/") + ".git"
    if context.server_url and context.project_path:
        return f"{context.server_url.rstrip('/')}/{context.project_path}.git"
    if context.server_host and context.project_path:
        return f"https://{context.server_host}/{context.project_path}.git"
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


# What git may see of the job's environment: where things are, proxies and CAs, never a
# credential meant for another host (ARGOCD_AUTH_TOKEN, REGISTRY_PASSWORD, AWS_*, GITLAB_*...).
# Git's own settings come from Clone._env alone.
GIT_ENVIRONMENT = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TMP", "TEMP",
        "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "SSH_AUTH_SOCK", "GIT_EXEC_PATH",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    }
)  # fmt: skip


def git_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` git may inherit (``GIT_ENVIRONMENT``)."""
    return {key: value for key, value in environ.items() if key in GIT_ENVIRONMENT}


# printf, not echo: sh's echo would interpret backslashes in a token.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$GITOPS_GIT_USERNAME" "$GITOPS_GIT_PASSWORD"; }; f'
)


def git_process_env(
    environ: Mapping[str, str], identity: Identity, credentials: Credentials | None
) -> dict[str, str]:
    """A git process's whole environment: what it may inherit, a fixed locale, no prompts, the
    identity, and the credentials only through the helper's own variables."""
    env = git_environment(environ)
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_AUTHOR_NAME=identity.name,
        GIT_AUTHOR_EMAIL=identity.email,
        GIT_COMMITTER_NAME=identity.name,
        GIT_COMMITTER_EMAIL=identity.email,
        # An empty helper first drops any helper from the user's or system's config.
        GIT_CONFIG_COUNT="4",
        GIT_CONFIG_KEY_0="credential.helper",
        GIT_CONFIG_VALUE_0="",
        GIT_CONFIG_KEY_1="credential.helper",
        GIT_CONFIG_VALUE_1=CREDENTIAL_HELPER if credentials else "",
        GIT_CONFIG_KEY_2="advice.detachedHead",
        GIT_CONFIG_VALUE_2="false",
        GIT_CONFIG_KEY_3="fetch.writeCommitGraph",
        GIT_CONFIG_VALUE_3="false",
    )
    if credentials:
        env["GITOPS_GIT_USERNAME"] = credentials.username
        env["GITOPS_GIT_PASSWORD"] = credentials.password
    return env
