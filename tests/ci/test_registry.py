"""ci.registry without system tools: references, and the token-auth flow of the distribution API.

The Basic-auth flow (ECR, htpasswd) runs against the real registry in tests/image. A registry with
token auth (GitLab's, Docker Hub's) needs a token server with signing keys, which cannot run here;
``TokenRegistry`` below answers the two HTTP exchanges of that protocol and nothing else.
"""

import base64
import http.server
import json
import secrets
import urllib.parse
from typing import ClassVar

import pytest

from app import SERVICE_NAME
from ci.errors import CiError, UsageError
from ci.registry import (
    ImageRef,
    RegistryAuth,
    auth_from_environ,
    image_digest,
    image_exists,
    insecure_from_env,
    is_ecr_host,
    verify_reference,
)
from harness.network import free_port, serving_thread
from tests.support.registry import recording_server


def test_reference_parts():
    image = ImageRef("registry.example.com:5000/team", SERVICE_NAME, "0123abcd")
    assert image.reference == f"registry.example.com:5000/team/{SERVICE_NAME}:0123abcd"
    assert image.repository == f"registry.example.com:5000/team/{SERVICE_NAME}"
    assert image.host == "registry.example.com:5000"
    assert image.path == f"team/{SERVICE_NAME}"
    assert ImageRef.parse(image.reference) == image


@pytest.mark.parametrize("text", ["no-tag/name", "name:tag", "r.io/name:bad/tag"])
def test_bad_reference(text):
    with pytest.raises(UsageError, match="is not REGISTRY/NAME:TAG"):
        ImageRef.parse(text)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("", False)])
def test_insecure_from_env(value, expected):
    assert insecure_from_env({"REGISTRY_INSECURE": value}) is expected


def test_password_not_in_repr():
    assert "s3cret" not in repr(RegistryAuth("AWS", "s3cret"))


def test_unreachable_registry_is_one_line():
    image = ImageRef(f"127.0.0.1:{free_port()}", "svc", "abc")
    with pytest.raises(CiError, match=r"^registry 127\.0\.0\.1:\d+ is unreachable: "):
        image_exists(image, None, insecure=True)


DIGEST = "sha256:" + "5e" * 32


class TokenRegistry(http.server.BaseHTTPRequestHandler):
    tags: ClassVar[dict[str, set[str]]] = {"svc": {"present", "odd-digest"}}
    user = ("robot", "pw")

    def log_message(self, *args):
        pass

    def do_GET(self):  # the token endpoint
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        expected = "Basic " + base64.b64encode(":".join(self.user).encode()).decode()
        if url.path != "/token" or self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"token": f"tok:{query['scope'][0]}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):  # /v2/NAME/manifests/TAG
        _, _, name, _, tag = self.path.split("/", 4)
        if self.headers.get("Authorization") != f"Bearer tok:repository:{name}:pull":
            port = self.server.server_address[1]
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://127.0.0.1:{port}/token",service="test"',
            )
            self.end_headers()
            return
        self.send_response(200 if tag in self.tags.get(name, set()) else 404)
        if tag in self.tags.get(name, set()):
            self.send_header("Docker-Content-Digest", DIGEST if tag == "present" else "md5:x")
        self.end_headers()


@pytest.fixture
def token_registry():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenRegistry)
    thread = serving_thread(server)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_token_auth_existing_and_missing_tags(token_registry):
    auth = RegistryAuth("robot", "pw")
    assert image_exists(ImageRef(token_registry, "svc", "present"), auth, insecure=True)
    assert not image_exists(ImageRef(token_registry, "svc", "absent"), auth, insecure=True)


def test_digest_of_a_tag_from_the_registry(token_registry):
    auth = RegistryAuth("robot", "pw")
    assert image_digest(ImageRef(token_registry, "svc", "present"), auth, insecure=True) == DIGEST
    # A header that is no sha256 digest is not trusted: unknown, never written.
    assert image_digest(ImageRef(token_registry, "svc", "odd-digest"), auth, True) is None
    with pytest.raises(CiError, match=r"^image 127\.0\.0\.1:\d+/svc:absent not found in the"):
        image_digest(ImageRef(token_registry, "svc", "absent"), auth, insecure=True)


def test_token_auth_wrong_password(token_registry):
    with pytest.raises(CiError, match=r"^registry 127\.0\.0\.1:\d+ rejected the credentials$"):
        image_exists(ImageRef(token_registry, "svc", "x"), RegistryAuth("robot", "no"), True)


# -- which host gets the registry login -------------------------------------------------------

ECR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (ECR, True),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", True),
        (f"{ECR}.evil.example", False),  # a substring test would send the ECR token here
        (f"evil.example/{ECR}", False),
        (f"{ECR}:443", False),
        ("12345678901.dkr.ecr.eu-central-1.amazonaws.com", False),
        ("x123456789012.dkr.ecr.eu-central-1.amazonaws.com", False),
    ],
)
def test_ecr_hosts_are_matched_exactly(host, expected):
    assert is_ecr_host(host) is expected


def login(secret: str, configured: str) -> dict[str, str]:
    return {"ECR_REPOSITORY_URL": configured, "REGISTRY_USER": "ci", "REGISTRY_PASSWORD": secret}


@pytest.mark.parametrize(
    ("configured", "host", "sent"),
    [
        ("reg.example:5000/team", "reg.example:5000", True),
        ("Reg.Example:5000", "reg.example:5000", True),  # host names are case-insensitive
        ("reg.example:5000", "reg.example", False),  # another port is another server
        ("reg.example", "reg.example.evil", False),
        ("reg.example", "evil.example", False),
        ("", "reg.example", False),  # no configured registry: nobody gets the login
        ("https://reg.example", "reg.example", False),
    ],
)
def test_credentials_go_only_to_the_configured_registry_host(configured, host, sent):
    secret = secrets.token_hex(8)
    auth = auth_from_environ(ImageRef(host, "svc", "t"), login(secret, configured))
    assert auth == (RegistryAuth("ci", secret) if sent else None)


@pytest.mark.parametrize(
    ("configured", "host"), [(ECR, f"{ECR}.evil.example"), (f"{ECR}.evil.example",) * 2]
)
def test_no_ecr_token_for_a_host_that_only_looks_like_ecr(configured, host):
    """No AWS region is set: asking ECR for a token would be a UsageError, so None means that
    ECR was not asked."""
    env = {"ECR_REPOSITORY_URL": configured}
    assert auth_from_environ(ImageRef(host, "svc", "t"), env) is None


def test_a_reference_to_another_host_is_checked_without_credentials():
    secret = secrets.token_hex(8)
    with recording_server(status=404) as other:
        env = {**login(secret, f"127.0.0.1:{free_port()}"), "REGISTRY_INSECURE": "true"}
        reference = f"{other.host}/team/svc:abc"
        assert verify_reference(reference, env) == (
            f"image {other.host}/team/svc:abc not found in the registry"
        )
    assert other.authorizations == [None]


def test_a_redirect_from_the_configured_registry_carries_no_credentials():
    secret = secrets.token_hex(8)
    with (
        recording_server(status=404) as elsewhere,
        recording_server(redirect=f"http://{elsewhere.host}") as configured,
    ):
        env = {**login(secret, configured.host), "REGISTRY_INSECURE": "true"}
        assert verify_reference(f"{configured.host}/svc:abc", env) == (
            f"image {configured.host}/svc:abc not found in the registry"
        )
    expected = "Basic " + base64.b64encode(f"ci:{secret}".encode()).decode()
    assert configured.authorizations == [expected]
    assert elsewhere.authorizations == [None]


def test_a_reference_without_a_registry_host_is_one_line():
    assert verify_reference("nginx:1.27", {}) == (
        "image nginx:1.27 has no registry host: cannot verify it"
    )


@pytest.mark.integration
def test_the_ecr_token_goes_to_the_configured_ecr_host_only(monkeypatch):
    from tests.support.moto import running_moto

    with running_moto() as moto:
        for name, value in moto.env.items():  # boto3 reads the credentials from os.environ
            monkeypatch.setenv(name, value)
        env = {**moto.env, "ECR_REPOSITORY_URL": f"{ECR}/team"}
        auth = auth_from_environ(ImageRef(f"{ECR}/team", "svc", "t"), env)
        assert auth is not None
        assert (auth.username, auth.password) == moto.ecr_credentials()
        assert auth_from_environ(ImageRef(f"{ECR}.evil.example", "svc", "t"), env) is None
        lookalike = {**env, "ECR_REPOSITORY_URL": f"{ECR}.evil.example"}
        assert auth_from_environ(ImageRef(f"{ECR}.evil.example", "s", "t"), lookalike) is None
