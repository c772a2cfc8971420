"""`make rename NAME=new-name [GITLAB_URL=https://host/group/project]`: adopt the template.

Python reads the service name from its one home, ``SERVICE_NAME`` in ``app/__init__.py``; this
rewrites that line and the tracked files that cannot import it (the chart, ``gitops/``, values
files, ``.gitlab-ci.yml``, the Dockerfile, docs, recordings). Other Python files are left alone: a
name spelled out there is a bug (the rename test finds it). The GitLab project URL (current one:
``home:`` in ``helm-chart/Chart.yaml``) is replaced the same way; without GITLAB_URL it keeps its
host and takes the new name in its path like any other mention.

Exit codes: 0 renamed (or nothing to do), 1 a dirty working tree (``--force`` overrides),
2 bad input.
"""

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
NAME_HOME = "app/__init__.py"
URL_HOME = "helm-chart/Chart.yaml"
NAME_LINE = re.compile(r'^SERVICE_NAME = "([^"\n]*)"$', re.MULTILINE)
URL_LINE = re.compile(r"^home: *(\S+) *$", re.MULTILINE)
# Helm release names are at most 53 characters; Kubernetes names are DNS-1123 labels.
MAX_NAME = 53
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
URL_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class RenameError(Exception):
    """Bad input or a state the rename refuses: one ``error: ...`` line and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Identity:
    """What the rename replaces: the service name and the GitLab project URL."""

    name: str
    url: str


# --- pure: validation -------------------------------------------------------------------------


def checked_name(name: str) -> str:
    if len(name) > MAX_NAME:
        raise RenameError(f"NAME {name!r} is {len(name)} characters; at most {MAX_NAME}")
    if not DNS_LABEL.fullmatch(name):
        raise RenameError(
            f"NAME {name!r} is not a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def checked_url(url: str) -> str:
    """The project URL without a trailing ``/`` or ``.git``, or an error saying what is wrong."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/").removesuffix(".git")
    segments = path.split("/")[1:]
    problem = None
    if parts.scheme != "https" or not parts.hostname:
        problem = "it must start with https:// and a host"
    elif parts.username is not None or parts.password is not None:
        problem = "it must not carry credentials"
    elif parts.query or parts.fragment or url.strip() != url or any(c.isspace() for c in url):
        problem = "it must have no query, fragment or spaces"
    elif len(segments) < 2 or not all(URL_PATH_SEGMENT.fullmatch(s) for s in segments):
        problem = "it needs the project's path, e.g. https://gitlab.acme.io/group/project"
    if problem:
        raise RenameError(f"GITLAB_URL {url!r}: {problem}")
    return f"https://{parts.netloc}{path}"


# --- pure: the rewrite ------------------------------------------------------------------------


def current_identity(name_home: str, url_home: str) -> Identity:
    name, url = NAME_LINE.search(name_home), URL_LINE.search(url_home)
    if not name or not url:
        raise RenameError(f"cannot find SERVICE_NAME in {NAME_HOME} or home: in {URL_HOME}")
    return Identity(name.group(1), url.group(1))


def _url_pattern(url: str) -> str:
    """The URL, not followed by more path characters (``.git`` and ``/-/...`` may follow)."""
    return re.escape(url) + r"(?![\w-])"


def _name_pattern(name: str) -> str:
    """The name as a word of its own (``name-dev`` and ``name.git`` count, ``x-name`` does not)."""
    return r"(?<![A-Za-z0-9.-])" + re.escape(name) + r"(?![A-Za-z0-9])"


def _pattern(old: Identity) -> re.Pattern[str]:
    return re.compile(f"(?P<url>{_url_pattern(old.url)})|{_name_pattern(old.name)}")


def rewrite(text: str, old: Identity, new: Identity) -> tuple[str, int]:
    """``text`` with every mention of ``old`` replaced by ``new``, and how many there were."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        replacement = new.url if match.group("url") else new.name
        count += replacement != match.group(0)
        return replacement

    return _pattern(old).sub(replace, text), count


def rewrite_name_home(text: str, new: Identity) -> tuple[str, int]:
    """The ``SERVICE_NAME = ...`` line only: Python elsewhere imports it."""
    line = f'SERVICE_NAME = "{new.name}"'
    match = NAME_LINE.search(text)
    if not match or match.group(0) == line:
        return text, 0
    return text[: match.start()] + line + text[match.end() :], 1


def _aws_pattern(old: Identity) -> re.Pattern[str]:
    """The GitLab host and project path as IAM policies spell them (``aws/``): the OIDC
    provider ARN, the ``HOST:aud``/``HOST:sub`` condition keys and ``project_path:PATH:``."""
    parts = urlsplit(old.url)
    host, path = re.escape(parts.netloc), re.escape(parts.path.strip("/"))
    return re.compile(
        rf'(?P<host>(?<=oidc-provider/){host}(?=")|(?<="){host}(?=:(?:aud|sub)"))'
        rf"|(?P<path>(?<=project_path:){path}(?=:))"
    )


def rewrite_aws(text: str, old: Identity, new: Identity) -> tuple[str, int]:
    """IAM policy files: the host and project path first, then every other mention."""
    parts = urlsplit(new.url)
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        replacement = parts.netloc if match.group("host") else parts.path.strip("/")
        count += replacement != match.group(0)
        return replacement

    text = _aws_pattern(old).sub(replace, text)
    text, more = rewrite(text, old, new)
    return text, count + more


def _rewritten(path: str) -> bool:
    return path == NAME_HOME or not path.endswith(".py")


def plan(files: Mapping[str, str], old: Identity, new: Identity) -> dict[str, tuple[str, int]]:
    """The files that change (path -> new text, replacements). Python is rewritten only at home."""
    changes = {}
    for path, text in files.items():
        if path == NAME_HOME:
            updated, count = rewrite_name_home(text, new)
        elif not _rewritten(path):
            continue
        elif path.startswith("aws/"):
            updated, count = rewrite_aws(text, old, new)
        else:
            updated, count = rewrite(text, old, new)
        if count:
            changes[path] = (updated, count)
    return changes


def clashes(files: Mapping[str, str], old: Identity, new: Identity) -> list[str]:
    """Files the rename rewrites that mention the new name already (a later rename would too)."""
    if new.name == old.name:
        return []
    url, name = re.compile(_url_pattern(old.url)), re.compile(_name_pattern(new.name))
    return sorted(
        path for path, text in files.items() if _rewritten(path) and name.search(url.sub("", text))
    )


def new_identity(old: Identity, name: str, url: str | None) -> Identity:
    """Without a new URL, the current one takes the new name in its path."""
    return Identity(
        name, url if url is not None else re.sub(_name_pattern(old.name), name, old.url)
    )


# --- I/O edge ---------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode:
        raise RenameError(f"git {args[0]} failed in {root}: {done.stderr.strip()}", exit_code=1)
    return done.stdout


def tracked_texts(root: Path) -> dict[str, str]:
    """Every tracked regular file that is UTF-8 text, by path (CRLF and all kept as they are)."""
    texts = {}
    for rel in filter(None, _git(root, "ls-files", "-z").split("\0")):
        path = root / rel
        if path.is_symlink() or not path.is_file():
            continue
        try:
            texts[rel] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue  # images and other binaries
    return texts


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole (a temporary file renamed over it), keeping its mode."""
    temporary = path.with_name(f".{path.name}.rename-tmp")
    temporary.write_bytes(text.encode("utf-8"))
    os.chmod(temporary, path.stat().st_mode)
    os.replace(temporary, path)


def rename(root: Path, name: str, url: str | None, force: bool) -> list[str]:
    """Rename the checkout at ``root``; the lines to print."""
    name = checked_name(name)
    url = checked_url(url) if url is not None else None
    if not force and _git(root, "status", "--porcelain", "--untracked-files=no").strip():
        raise RenameError(
            "the working tree has uncommitted changes; commit or stash them (or pass --force)",
            exit_code=1,
        )
    files = tracked_texts(root)
    old = current_identity(files.get(NAME_HOME, ""), files.get(URL_HOME, ""))
    new = new_identity(old, name, url)
    clashing = clashes(files, old, new)
    if clashing:
        raise RenameError(
            f"NAME {name!r} already appears in {len(clashing)} tracked file(s) "
            f"({', '.join(clashing[:3])}); pick a name that does not, so it stays findable"
        )
    changes = plan(files, old, new)
    for path, (text, _) in changes.items():
        _write(root / path, text)
    return summary(old, new, changes)


def summary(old: Identity, new: Identity, changes: Mapping[str, tuple[str, int]]) -> list[str]:
    if not changes:
        return [f"nothing to change: the service is {new.name} at {new.url}"]
    lines = [f"{old.name} -> {new.name}", f"{old.url} -> {new.url}"]
    lines += [f"  {path}: {count}" for path, (_, count) in sorted(changes.items())]
    total = sum(count for _, count in changes.values())
    lines.append(f"{total} replacement(s) in {len(changes)} file(s); review with git diff")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", metavar="NAME", help="the new service name (DNS-1123 label)")
    parser.add_argument("--gitlab-url", help="the GitLab project's URL, https://host/group/project")
    parser.add_argument("--force", action="store_true", help="run on a dirty working tree")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        lines = rename(args.root, args.name, args.gitlab_url, args.force)
    except RenameError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
