"""Holds: an environment ``deploy`` and ``promote`` leave alone until a person releases it.

A hold is the file ``gitops/<env>/hold.yaml`` on the gitops branch, written by ``rollback`` and
``hold`` and deleted by ``unhold``. Argo CD never reads it: the Application's ``valueFiles`` name
only ``values.<env>.yaml`` and ``gitops/<env>/values.yaml``, and the ApplicationSet's git files
generator matches only ``gitops/*/values.yaml``. Everything here is pure (text in, text out), so
other commands (``python -m ci check``) read holds with the same code::

    hold = parse_hold(text, hold_path("prod"))   # ValuesError (exit 2) when malformed
    print(describe(hold))                          # prod is held by alice <...> since ...: ...
"""

import json
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ci.gitops.values import ValuesError

HOLD_FILE = "hold.yaml"
REQUIRED = ("by", "since", "reason")


@dataclass(frozen=True)
class Hold:
    """Who held ``env``, when (ISO 8601, UTC), why, and the build rolled back from (if any)."""

    env: str
    by: str
    since: str
    reason: str
    rolled_back_from: str | None = None


def hold_path(env: str) -> str:
    return f"gitops/{env}/{HOLD_FILE}"


def env_of(path: str) -> str:
    """The environment of a ``gitops/<env>/hold.yaml`` path."""
    parts = path.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "gitops" else path


def load_yaml(text: str, path: str) -> object:
    """``text`` (the file at ``path``) read as YAML 1.2, plain data only: ValuesError naming the
    file when it is not valid YAML (duplicate keys included). Holds, verdicts and rejections
    are read with it."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        first = (str(error).strip().splitlines() or ["invalid YAML"])[0]
        raise ValuesError(f"{path}: not valid YAML ({first})") from None
    except RecursionError:  # ruamel's parser recurses once per nesting level: ``[[[[...``
        raise ValuesError(f"{path}: not valid YAML (nested too deeply)") from None


def parse_hold(text: str, path: str) -> Hold:
    """The hold recorded in ``text`` (the file at ``path``); ValuesError when it is malformed."""
    data = load_yaml(text, path)
    if not isinstance(data, dict):
        raise ValuesError(f"{path}: expected a mapping with {', '.join(REQUIRED)}")
    fields = {}
    for key in (*REQUIRED, "from"):
        value = data.get(key)
        if value is None and key == "from":
            continue
        if not isinstance(value, str) or not value.strip():
            raise ValuesError(f"{path}: '{key}' must be a non-empty string")
        fields[key] = value.strip()
    return Hold(
        env=env_of(path),
        by=fields["by"],
        since=fields["since"],
        reason=fields["reason"],
        rolled_back_from=fields.get("from"),
    )


def format_hold(hold: Hold) -> str:
    """The file's text: a comment saying what it does, then the record (JSON strings are YAML)."""
    lines = [
        f"# {hold.env} is held: `python -m ci deploy` and `promote` refuse it (unless --force)",
        f"# until `python -m ci unhold --env {hold.env}` (the pipeline's unhold-{hold.env} job)",
        "# deletes this file. Written by `rollback` and `hold`; Argo CD does not read it.",
        f"by: {_string(hold.by)}",
        f"since: {_string(hold.since)}",
        f"reason: {_string(hold.reason)}",
    ]
    if hold.rolled_back_from:
        lines.append(f"from: {_string(hold.rolled_back_from)}")
    return "\n".join(lines) + "\n"


def _string(value: str) -> str:
    return quoted(" ".join(value.split()))


def quoted(value: str | None) -> str:
    """``value`` as a YAML double-quoted scalar (or ``null``): JSON's escapes, but ``\\U`` for a
    character beyond the BMP (YAML reads JSON's surrogate pair as two characters)."""
    if value is None:
        return "null"
    return (
        '"'
        + "".join(
            f"\\U{ord(char):08x}" if ord(char) > 0xFFFF else json.dumps(char)[1:-1]
            for char in value
        )
        + '"'
    )


def describe(hold: Hold) -> str:
    return f"{hold.env} is held by {hold.by} since {hold.since}: {hold.reason}"


def release_hint(env: str) -> str:
    return f"release it with `python -m ci unhold --env {env}` (pipeline job unhold-{env})"
