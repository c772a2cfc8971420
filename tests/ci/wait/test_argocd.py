"""The Argo CD client's rules, through ``python -m ci wait`` in this process: where the token may
go (redirects), and which settings are refused before anything is sent (a real gitops remote, real
HTTP servers on 127.0.0.1)."""

import secrets
import ssl
import time

import pytest

from ci.wait.argocd import ArgoCD
from tests.ci.wait.fake_argocd import APP, deploy_here, redirect_to, serving
from tests.ci.wait.recorded import at, recorded


def wait_env(server: str, token: str, **extra: str) -> dict[str, str]:
    return {
        "ARGOCD_SERVER": server,
        "ARGOCD_AUTH_TOKEN": token,
        "WAIT_INTERVAL": "0.1",
        "WAIT_TIMEOUT": "10",
        **extra,
    }


def wait(ci, remote, env: dict[str, str], *args: str):
    return ci("wait", "--repo", remote.url, "--env", "dev", *args, env=env)


# --- redirects: the token goes only to ARGOCD_SERVER's origin -------------------------------------


def test_a_redirect_to_another_origin_is_an_error_and_the_token_stays_home(ci, remote, argocd):
    """Another port is another origin (RFC 6454): the token's server may not send it there."""
    ours = deploy_here(ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("synced-healthy"), ours, images=[remote.image()])]
    token = secrets.token_hex(16)
    argocd.token = token
    with serving(lambda handler: redirect_to(argocd.url + handler.path)(handler)) as front:
        result = wait(ci, remote, wait_env(front.url, token))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        f"error: Argo CD at {front.url} redirected to another origin ({argocd.url}): not"
        " followed, the token goes only to ARGOCD_SERVER; set ARGOCD_SERVER to the URL the API"
        " answers at\n"
    )
    assert argocd.requests == []  # the other origin saw neither the request nor the token
    assert [auth for _, auth in front.seen] == [f"Bearer {token}"]


@pytest.mark.integration  # openssl makes the test CA
def test_https_is_never_redirected_to_http(ci, remote, test_ca, argocd):
    """A redirect to the same host and port over http would send the token in clear text."""
    ours = deploy_here(ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("synced-healthy"), ours, images=[remote.image()])]
    token = secrets.token_hex(16)
    argocd.token = token
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(test_ca.cert, test_ca.key)
    with serving(lambda handler: redirect_to(argocd.url + handler.path)(handler), context) as tls:
        env = wait_env(tls.url, token, ARGOCD_CA_FILE=str(test_ca.ca))
        result = wait(ci, remote, env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        f"error: Argo CD at {tls.url} redirected to another origin ({argocd.url}): not followed"
    )
    assert argocd.requests == []


def test_a_redirect_within_the_origin_is_followed_with_the_token(ci, remote, argocd):
    ours = deploy_here(ci, remote, "1a2b3c4d")
    argocd.script = [at(recorded("synced-healthy"), ours, images=[remote.image()])]

    def respond(handler) -> None:
        if handler.path.startswith("/old/"):
            redirect_to(handler.path.removeprefix("/old"), 308)(handler)
        else:  # the same server answers the new path as Argo CD
            _proxy(argocd, handler)

    token = secrets.token_hex(16)
    argocd.token = token
    with serving(respond) as server:
        result = wait(ci, remote, wait_env(server.url + "/old", token))
    assert result.returncode == 0, result.stderr
    assert server.seen[0] == (f"/old/api/v1/applications/{APP}?refresh=normal", f"Bearer {token}")
    assert server.seen[1] == (f"/api/v1/applications/{APP}?refresh=normal", f"Bearer {token}")


def _proxy(argocd, handler) -> None:
    """Answer ``handler`` as the FakeArgoCD would (in the serving thread)."""
    import json

    status, body = argocd.answer(handler.path, handler.headers.get("Authorization", ""))
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def test_redirects_that_leave_the_origin_are_recognised():
    client = ArgoCD("https://argocd.example:8443/prefix")
    follow = client._redirect
    assert (
        follow("https://argocd.example:8443/prefix/a", "/b?c=1")
        == "https://argocd.example:8443/b?c=1"
    )
    assert follow("https://argocd.example:8443/a", "HTTPS://ARGOCD.example:8443/x") == (
        "https://ARGOCD.example:8443/x"
    )
    for location in (
        "http://argocd.example:8443/x",  # https -> http: clear text
        "https://argocd.example/x",  # another port (443)
        "https://evil.example:8443/x",
        "//evil.example:8443/x",  # scheme-relative
        "https://argocd.example:8443@evil.example/x",  # user-info trick: the host is evil
        "https://[::1/x",  # malformed
    ):
        with pytest.raises(Exception, match="redirected to another origin") as raised:
            follow("https://argocd.example:8443/a", location)
        assert raised.value.exit_code == 2


# --- settings refused before anything is sent -----------------------------------------------------


@pytest.mark.parametrize("bad", ["\n", "\r", "\r\n ", "\x01", "\x7f", "\u00e9", "\u2028"])
def test_a_token_a_header_cannot_carry_is_exit_2_without_showing_it(ci, remote, argocd, bad):
    """Checked before the clone: nothing of the token reaches a server, a message or a trace."""
    secret = secrets.token_hex(16)
    token = f"{secret[:16]}{bad}{secret[16:]}"
    started = time.monotonic()
    result = wait(ci, remote, wait_env(argocd.url, token))
    assert result.returncode == 2
    assert result.stderr == (
        "error: ARGOCD_AUTH_TOKEN holds a character an HTTP header cannot carry (a line break, a"
        " control or a non-ASCII character); the token is not shown\n"
    )
    output = result.stdout + result.stderr
    assert secret[:16] not in output
    assert secret[16:] not in output
    assert argocd.requests == []
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (
            "http://h:abc",
            "is not a valid URL (Port could not be cast to integer value as 'abc'): 'http://h:abc'",
        ),
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL): 'http://[::1'"),
        ("http://h:99999", "is not a valid URL (Port out of range 0-65535): 'http://h:99999'"),
        ("http://h:0", "is not a valid URL (port 0): 'http://h:0'"),
        ("ftp://h/", "must be an http(s) URL, got 'ftp://h'"),
        ("http:///x", "must be an http(s) URL, got 'http:///x'"),
        ("http://h x", "must be an http(s) URL of printable ASCII characters, got 'http://h x'"),
        (
            "http://h\n.x",
            "must be an http(s) URL of printable ASCII characters, got 'http://h\\n.x'",
        ),
        ("http://h?x=1", "must be a base URL, without ?query or #fragment: 'http://h?x=1'"),
        ("http://u@[::1", "must not hold credentials: use ARGOCD_AUTH_TOKEN"),
    ],
)
def test_a_malformed_server_url_is_exit_2_at_once(ci, remote, server, message):
    started = time.monotonic()
    result = wait(ci, remote, wait_env(server, "t", WAIT_TIMEOUT="600"))
    assert result.returncode == 2
    assert result.stderr == f"error: ARGOCD_SERVER {message}\n"
    assert time.monotonic() - started < 10  # not retried


def test_the_checks_keep_what_is_valid():
    from ci.wait.argocd import check_server, check_token

    assert check_server(" https://argocd.example:8443/prefix/ ") == (
        "https://argocd.example:8443/prefix"
    )
    assert check_server("http://[::1]:8080") == "http://[::1]:8080"
    assert check_server("HTTPS://Argo.example/") == "https://Argo.example"
    assert check_token('  argocd-Tok/+=#%$" en\t ') == 'argocd-Tok/+=#%$" en'
    assert check_token("") == ""
    with pytest.raises(Exception, match="the token is not shown"):
        check_token("a\x00b")
