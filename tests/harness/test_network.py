"""``harness.network``: a server started on a free port gets another one when the port is taken
before it binds it (the free-port race, forced), here with the test suite's git servers."""

import socket

import pytest

import harness.network
from harness.network import free_port
from tests.support.cli import run_ci
from tests.support.git_remotes import git_daemon, http_git_server, make_remote

PASSWORD = "s3cret-Token-value-42"


@pytest.mark.integration
@pytest.mark.parametrize("server", ["git daemon", "nginx"])
def test_a_port_taken_before_the_server_binds_it_is_tried_again_on_another(
    server, tmp_path, monkeypatch
):
    """The free-port race, forced: the first port picked is already listened on by this test."""
    remote = make_remote(tmp_path, commits=1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(harness.network, "free_port", lambda: next(picks))
        if server == "git daemon":
            serving = git_daemon(remote.bare.parent)
        else:
            user = "gitlab-ci-token"
            serving = http_git_server(remote.bare.parent, user, PASSWORD, tmp_path / "nginx")
        with serving as base:
            assert not base.endswith(f":{taken.getsockname()[1]}")
            url = f"{base}/{remote.bare.name}"
            status = run_ci("status", "--repo", url, env={"CI_JOB_TOKEN": PASSWORD})
            assert status.returncode == 0, status.stderr
