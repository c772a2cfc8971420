"""Flags backed by environment variables: every flag can also be set by its variable."""

import argparse
import os


def env_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    *envvars: str,
    default: str | None = None,
    **kwargs,
) -> None:
    """Add ``flag`` whose default is the first set variable of ``envvars``, else ``default``.

    The help text names the variables, so ``--help`` documents them.
    """
    value = next((os.environ[name] for name in envvars if os.environ.get(name)), default)
    names = " or ".join(f"${name}" for name in envvars)
    help_text = kwargs.pop("help", "")
    parser.add_argument(flag, default=value, help=f"{help_text} (env: {names})".strip(), **kwargs)


TRUE_WORDS = frozenset({"1", "true", "yes"})


def is_true(value: str | None) -> bool:
    """A variable's on/off reading: 1, true or yes (any case, spaces ignored) mean on."""
    return (value or "").strip().lower() in TRUE_WORDS


def env_switch(parser: argparse.ArgumentParser, flag: str, envvar: str, *, help: str) -> None:
    """Add an on/off ``flag``, on by default when ``envvar`` is 1, true or yes (any case)."""
    parser.add_argument(
        flag,
        action="store_true",
        default=is_true(os.environ.get(envvar)),
        help=f"{help} (env: ${envvar})",
    )
