"""``python -m ci wait --env ENV`` as the pipeline runs it: a real gitops remote, a real HTTP
server on 127.0.0.1 answering recorded Argo CD Applications, every verdict and its exit code;
``--timeout`` kept by the whole command, even against a server that drips its answer.

Most tests run the CLI in this process (``ci``: the unit tier starts no program but git); the
first and the bad-input ones run the real ``python -m ci`` subprocess. The same command against
the Argo CD stand-in (which renders and syncs for real) is tests/argocd/test_ci_wait.py."""

import threading
import time

import pytest

from app import SERVICE_NAME
from harness.network import free_port
from tests.ci.wait.fake_argocd import (
    APP,
    DIGEST_1,
    DIGEST_2,
    TOKEN,
    deploy_here,
    dripping,
    error,
    serving,
    settings,
)
from tests.ci.wait.recorded import at, recorded
from tests.support.cli import run_ci

TIMEOUT, INTERVAL = "--timeout ($WAIT_TIMEOUT)", "--interval ($WAIT_INTERVAL)"


def wait(run, remote, server: str, *args: str, **extra: str):
    result = run("wait", "--repo", remote.url, "--env", "dev", *args, env=settings(server, **extra))
    assert TOKEN not in result.stdout + result.stderr
    return result


@pytest.mark.integration
def test_deployed_once_argo_cd_runs_our_image_healthy(remote, argocd):
    before = remote.tip()
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    image = remote.image()
    argocd.script = [
        at(recorded("synced-healthy"), before, images=["registry.example/old:1"]),
        at(recorded("sync-running"), ours, images=["registry.example/old:1", image]),
        at(recorded("synced-healthy"), ours, images=[image]),
    ]
    result = wait(run_ci, remote, argocd.url)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"waiting up to 20s for Argo CD application {APP} to run {image} at {ours[:12]} healthy"
    )
    assert lines[1].startswith(f"{APP}: sync Synced at {before[:12]}, health Healthy")
    assert lines[2].startswith(f"{APP}: sync OutOfSync at {ours[:12]}, health Progressing, oper")
    assert lines[3].startswith(f"deployed: {APP} {image} at {ours[:12]}, synced and healthy after")
    # Read-only: GETs with the bearer token; the first asks Argo CD to refresh from git.
    paths = argocd.application_requests
    assert paths[0] == f"/api/v1/applications/{APP}?refresh=normal"
    assert set(paths[1:]) == {f"/api/v1/applications/{APP}"}
    assert {auth for _, auth in argocd.requests} == {f"Bearer {TOKEN}"}


@pytest.mark.integration
def test_a_later_commit_that_changed_other_environments_still_runs_our_build(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    image = remote.image()
    later = remote.commit("gitops/prod/values.yaml", lambda t: t + "# note\n", "prod: a comment")
    argocd.script = [at(recorded("synced-healthy"), later, images=[image])]
    # Default revision: the newest commit that changed dev's image, not the branch tip.
    result = wait(ci, remote, argocd.url)
    assert result.returncode == 0, result.stderr
    assert f"to run {image} at {ours[:12]} healthy" in result.stdout
    assert f"deployed: {APP} {image} at {ours[:12]}" in result.stdout


@pytest.mark.integration
def test_a_later_deploy_that_argo_cd_already_runs_supersedes_ours(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d", DIGEST_1)
    newer = deploy_here(run_ci, remote, "5e6f7a8b", DIGEST_2)
    argocd.script = [at(recorded("synced-healthy"), newer, images=[remote.image()])]
    result = wait(ci, remote, argocd.url, "--revision", ours[:8])
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        f"superseded: {APP} registry.example/{SERVICE_NAME}:1a2b3c4d@{DIGEST_1} at"
        f" {ours[:12]}: Argo CD is at {newer[:12]}, a later commit that changed the image"
    )


@pytest.mark.integration
def test_a_newer_deploy_on_the_branch_supersedes_a_build_not_yet_healthy(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d", DIGEST_1)
    newer = deploy_here(run_ci, remote, "5e6f7a8b", DIGEST_2)
    argocd.script = [at(recorded("sync-running"), ours)]
    result = wait(ci, remote, argocd.url, "--revision", ours)
    assert result.returncode == 3, result.stderr
    assert f": {newer[:12]}, a later commit, changed the image before ours became" in result.stdout


@pytest.mark.integration
def test_a_failed_sync_fails_promptly_with_argo_cds_words(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("sync-running"), ours), at(recorded("sync-failed"), ours)]
    started = time.monotonic()
    result = wait(ci, remote, argocd.url, WAIT_TIMEOUT="120")
    assert time.monotonic() - started < 60  # not at the timeout
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"error: failed: {APP} {remote.image()} at {ours[:12]}:"
        f" the sync of {ours[:12]} ended Failed"
    )
    assert lines[1].startswith("  operation: one or more objects failed to apply, reason: Deploy")
    assert lines[2].startswith(f'  Deployment/{SERVICE_NAME}: Deployment.apps "{SERVICE_NAME}"')
    assert lines[3].startswith(f"  SyncError: Failed sync attempt to {ours}: one or more")


@pytest.mark.integration
def test_a_degraded_application_fails_with_the_resource_trees_health_messages(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("degraded"), ours)]
    argocd.tree = recorded("degraded-tree")
    result = wait(ci, remote, argocd.url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: failed: {APP} {remote.image()} at {ours[:12]}: Degraded at {ours[:12]}",
        f'  Deployment/{SERVICE_NAME}: Degraded: Deployment "{SERVICE_NAME}" exceeded'
        " its progress deadline",
        f"  Pod/{SERVICE_NAME}-7d9f8c6b5d-x2k9p: Degraded: back-off 5m0s restarting failed"
        f" container=app pod={SERVICE_NAME}-7d9f8c6b5d-x2k9p_{SERVICE_NAME}-dev(a4)",
    ]
    assert f"/api/v1/applications/{APP}/resource-tree" in [p for p, _ in argocd.requests]


@pytest.mark.integration
def test_timeout_names_the_last_state_and_the_webhook(ci, remote, argocd):
    before = remote.tip()
    deploy_here(run_ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("synced-healthy"), before)]
    started = time.monotonic()
    result = wait(ci, remote, argocd.url, "--timeout", "1.5", "--interval", "0.2")
    assert 1.0 < time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stderr == (
        f"error: timed out after 1.5s waiting for {APP} to run {remote.image()} at"
        f" {remote.tip()[:12]} healthy; last state: sync Synced at {before[:12]}, health Healthy,"
        f" operation Succeeded at {before[:12]}; Argo CD has not reached the commit: it polls"
        " git every 3 minutes unless a GitLab webhook tells it (see docs/operations.md)\n"
    )


@pytest.mark.integration
def test_an_unreachable_server_is_retried_until_the_timeout(ci, remote):
    deploy_here(run_ci, remote, "1a2b3c4d")
    server = f"http://127.0.0.1:{free_port()}"
    result = wait(ci, remote, server, "--timeout", "1", "--interval", "0.2")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: timed out after 1s waiting for {APP} to run {remote.image()} at"
    )
    assert f"healthy; Argo CD never answered; then Argo CD at {server} is unreachable (" in (
        result.stderr
    )


@pytest.mark.integration
def test_server_errors_are_retried_and_then_the_answer_counts(ci, remote, argocd):
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    healthy = at(recorded("synced-healthy"), ours, images=[remote.image()])
    argocd.script = [error(503), error(503), healthy]
    result = wait(ci, remote, argocd.url)
    assert result.returncode == 0, result.stderr
    assert "is unreachable" not in result.stdout
    assert f"{APP}: Argo CD at {argocd.url} answered HTTP 503: upstream connect error" in (
        result.stdout
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"ARGOCD_AUTH_TOKEN": "wrong-token"},
            "rejected the token (HTTP 401: invalid session: token is invalid):"
            " check ARGOCD_AUTH_TOKEN",
        ),
        ({"ARGOCD_AUTH_TOKEN": ""}, "(HTTP 401: invalid session: token is invalid): ARGOCD_AUTH"),
        (
            {"ARGOCD_APP": "someone-elses-app"},
            "denied access to application someone-elses-app (HTTP 403: permission denied): the"
            " token's role needs get on it, or no such application exists",
        ),
    ],
)
def test_a_token_or_application_argo_cd_refuses_is_bad_input(ci, remote, argocd, extra, message):
    deploy_here(run_ci, remote, "1a2b3c4d")
    argocd.script = [recorded("synced-healthy")]
    result = wait(ci, remote, argocd.url, **extra)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: Argo CD at {argocd.url} ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.integration
def test_an_application_that_does_not_exist_is_bad_input(ci, remote, argocd):
    deploy_here(run_ci, remote, "1a2b3c4d")
    argocd.script = [error(404)]
    result = wait(ci, remote, argocd.url)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: Argo CD at {argocd.url} has no application {APP} (HTTP 404:"
        ' applications.argoproj.io "x" not found)\n'
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        ((), {"ARGOCD_SERVER": ""}, "ARGOCD_SERVER is not set: the base URL of the Argo CD API"),
        ((), {"ARGOCD_SERVER": "argocd.example.com"}, "ARGOCD_SERVER must be an http(s) URL"),
        ((), {"ARGOCD_SERVER": "https://u:pw@h"}, "ARGOCD_SERVER must not hold credentials"),
        ((), {"ARGOCD_CA_FILE": "/nonexistent/ca.pem"}, "ARGOCD_CA_FILE '/nonexistent/ca.pem'"),
        (("--env", "qa"), {}, "unknown environment 'qa' (known: dev, prod)"),
        (("--env", "../x"), {}, "invalid environment name '../x'"),
        (("--revision", "deadbeef"), {}, "--revision 'deadbeef' is not a commit of branch main"),
        (("--branch", "nope"), {}, "branch 'nope' not found in"),
        (("--timeout", "0"), {}, "error: --timeout ($WAIT_TIMEOUT) must be a positive number of"),
        ((), {"WAIT_INTERVAL": "soon"}, "error: --interval ($WAIT_INTERVAL) must be a positive"),
        (("--timeout", "nan"), {}, "error: --timeout ($WAIT_TIMEOUT) must be a positive number"),
        (("--interval", "inf"), {}, "error: --interval ($WAIT_INTERVAL) must be a positive"),
        ((), {"ARGOCD_SERVER": "http://h:abc"}, "error: ARGOCD_SERVER is not a valid URL (Port"),
        ((), {"ARGOCD_SERVER": "http://[::1"}, "error: ARGOCD_SERVER is not a valid URL (Inval"),
        ((), {"ARGOCD_AUTH_TOKEN": "a\nb"}, "error: ARGOCD_AUTH_TOKEN holds a character an HTTP"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(remote, args, extra, message):
    deploy_here(run_ci, remote, "1a2b3c4d")
    server = f"https://127.0.0.1:{free_port()}"
    result = run_ci(
        "wait", "--repo", remote.url, "--env", "dev", *args, env=settings(server, **extra)
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_tls_with_a_private_ca_from_argocd_ca_file(ci, remote, argocd_tls, test_ca):
    ours = deploy_here(run_ci, remote, "1a2b3c4d")
    argocd_tls.script = [at(recorded("synced-healthy"), ours, images=[remote.image()])]
    untrusted = wait(ci, remote, argocd_tls.url)
    assert untrusted.returncode == 2
    assert untrusted.stderr == (
        f"error: Argo CD at {argocd_tls.url}: TLS certificate not trusted (unable to get local"
        " issuer certificate); set ARGOCD_CA_FILE to the CA's PEM file\n"
    )
    trusted = wait(ci, remote, argocd_tls.url, ARGOCD_CA_FILE=str(test_ca.ca))
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.splitlines()[-1].startswith("deployed: ")
    # OpenSSL's own variable works too (the CA bundle of the runner).
    via_openssl = wait(ci, remote, argocd_tls.url, SSL_CERT_FILE=str(test_ca.ca))
    assert via_openssl.returncode == 0, via_openssl.stderr


@pytest.mark.integration
def test_a_ca_file_without_certificates_is_bad_input(ci, remote, tmp_path):
    deploy_here(run_ci, remote, "1a2b3c4d")
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    result = wait(ci, remote, "https://127.0.0.1:1", ARGOCD_CA_FILE=str(bogus))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: ARGOCD_CA_FILE '{bogus}': no PEM certificates (")


# --- after first contact, a refusal is a passing state; a rollback is said as such -------------


def test_a_403_or_404_after_the_application_was_seen_is_retried(ci, remote, argocd):
    ours = deploy_here(ci, remote, "1a2b3c4d")
    healthy = at(recorded("synced-healthy"), ours, images=[remote.image()])
    argocd.script = [at(recorded("sync-running"), ours), error(404), error(403), healthy]
    result = wait(ci, remote, argocd.url)
    assert result.returncode == 0, result.stderr
    assert f"{APP}: Argo CD at {argocd.url} has no application {APP} (HTTP 404:" in result.stdout
    assert f"{APP}: Argo CD at {argocd.url} denied access to application {APP} (HTTP 403" in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1].startswith(f"deployed: {APP} ")


def test_a_404_that_lasts_after_first_contact_ends_at_the_timeout(ci, remote, argocd):
    ours = deploy_here(ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("sync-running"), ours), error(404)]
    started = time.monotonic()
    result = wait(ci, remote, argocd.url, "--timeout", "1.5", "--interval", "0.2")
    assert time.monotonic() - started >= 1.5
    assert result.returncode == 1
    assert result.stderr.startswith("error: timed out after 1.5s waiting for")
    assert f"; then Argo CD at {argocd.url} has no application {APP} (HTTP 404:" in result.stderr


def test_a_rollback_of_our_build_is_said_as_such(ci, remote, argocd):
    deploy_here(ci, remote, "1a2b3c4d", DIGEST_1)
    ours = deploy_here(ci, remote, "5e6f7a8b", DIGEST_2)
    image = remote.image()
    back = ci("rollback", "--repo", remote.url, "--env", "dev")
    assert back.returncode == 0, back.stderr
    rollback = remote.tip()
    argocd.script = [at(recorded("synced-healthy"), rollback, images=[remote.image()])]
    result = wait(ci, remote, argocd.url, "--revision", ours)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        f"rolled back: {APP} {image} at {ours[:12]}: {rollback[:12]} rolled this build back (to"
        f" 1a2b3c4d) before it became healthy; Argo CD is at {rollback[:12]}, a later commit"
    )
    assert "newer deploy" not in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "name", "value"),
    [
        (("--timeout", "nan"), {}, TIMEOUT, "nan"),
        (("--timeout", "inf"), {}, TIMEOUT, "inf"),
        ((), {"WAIT_TIMEOUT": "1e400"}, TIMEOUT, "1e400"),
        (("--interval", "nan"), {}, INTERVAL, "nan"),
        ((), {"WAIT_INTERVAL": "-inf"}, INTERVAL, "-inf"),
    ],
)
def test_a_duration_that_is_not_finite_is_exit_2_with_one_line(ci, remote, args, env, name, value):
    settings = {"ARGOCD_SERVER": "http://127.0.0.1:1", "ARGOCD_AUTH_TOKEN": TOKEN, **env}
    result = ci("wait", "--repo", remote.url, "--env", "dev", *args, env=settings)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {name} must be a positive number of seconds, got {value!r} (finite, at most"
        " 604800: a week)\n"
    )


@pytest.mark.parametrize("part", ["headers", "body"])
def test_the_wait_keeps_its_timeout_against_a_server_that_drips(ci, remote, part):
    deploy_here(ci, remote, "1a2b3c4d")
    stop = threading.Event()
    env = {"ARGOCD_SERVER": "", "ARGOCD_AUTH_TOKEN": TOKEN, "WAIT_INTERVAL": "0.2"}
    try:
        with serving(dripping(part, stop)) as server:
            env["ARGOCD_SERVER"] = server.url
            started = time.monotonic()
            result = ci("wait", "--repo", remote.url, "--env", "dev", "--timeout", "2", env=env)
            took = time.monotonic() - started
    finally:
        stop.set()
    assert result.returncode == 1
    # The timeout and the last look's floor (and the clone, slow on a loaded machine), far from
    # the server's pace (DRIP_LIMIT, 10 s).
    assert 2 <= took < 6
    assert result.stderr.startswith(f"error: timed out after 2s waiting for {APP} to run")
    assert f"Argo CD never answered; then Argo CD at {server.url} is unreachable (no" in (
        result.stderr
    )
