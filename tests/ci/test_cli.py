"""``python -m ci``'s entry point (``ci.cli.main``) in this process: one sub-command per module of
``ci/commands/``, in the registry's order; every expected failure is one ``error:`` line with its
exit code (2 bad input, 1 failed), an interrupt exits 130, an unknown command is argparse's 2."""

import signal
import socket
import threading

import pytest

from ci.cli import build_parser, command_names, main
from ci.commands import NAMES


def test_each_module_of_the_registry_is_one_command_in_its_order() -> None:
    assert command_names() == tuple(name.replace("_", "-") for name in NAMES)
    help_text = build_parser().format_help()
    assert all(name in help_text for name in command_names())


def test_bad_input_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    monkeypatch.delenv("RENDER_ENV", raising=False)
    assert main(["render"]) == 2
    assert capsys.readouterr().err == "error: --env is required (or set RENDER_ENV)\n"


def test_a_failure_is_one_line_and_exit_1(tmp_path, capsys) -> None:
    assert main(["status", "--repo", str(tmp_path / "absent.git")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: git clone failed for {(tmp_path / 'absent.git').as_uri()}: ")
    assert err.count("\n") == 1


def test_an_unknown_command_is_argparse_usage_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["nope"])
    assert stopped.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_ctrl_c_is_one_line_and_exit_130(capsys) -> None:
    """A real SIGINT while ``verify-deploy`` waits on a server that never answers."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts into the backlog, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        main_thread = threading.main_thread().ident
        timer = threading.Timer(0.5, signal.pthread_kill, (main_thread, signal.SIGINT))
        timer.start()
        try:
            code = main(["verify-deploy", "--url", url, "--version", "x", "--timeout", "60"])
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
    assert code == 130
    assert capsys.readouterr().err == "error: interrupted\n"
