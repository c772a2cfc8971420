"""ci.registry without system tools: references, and the token-auth flow of the distribution API.

The Basic-auth flow (ECR, htpasswd) runs against the real registry in tests/image. A registry with
token auth (GitLab's, Docker Hub's) needs a token server with signing keys, which cannot run here;
``TokenRegistry`` below answers the two HTTP exchanges of that protocol and nothing else.
"""

import base64
import http.server
import json
import urllib.parse
from typing import ClassVar

import pytest

from app import SERVICE_NAME
from ci.errors import CiError, UsageError
from ci.registry import ImageRef, RegistryAuth, image_digest, image_exists, insecure_from_env
from harness.network import free_port, serving_thread


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
