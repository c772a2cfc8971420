"""The one exception family of the CI tooling, and the exit code each maps to."""


class CiError(Exception):
    """An expected failure: printed as one ``error: ...`` line, exit code 1."""

    exit_code = 1


class UsageError(CiError):
    """Bad input (flags, environment names, tags, files): exit code 2."""

    exit_code = 2


def one_line(text: str) -> str:
    """``text`` on one line (an error message from a library may span several)."""
    return " ".join(text.split())
