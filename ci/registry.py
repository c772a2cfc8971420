"""Container registry access over the OCI distribution HTTP API, and ECR credentials.

Shared by ``build`` (skip when the tag is already pushed) and ``deploy --verify-image``.
"""

import base64
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from ci.errors import CiError, UsageError
from ci.options import is_true

# Manifest media types a registry may hold for a tag (single image or multi-arch index).
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
TIMEOUT_SECONDS = 15.0
# A manifest digest as the chart's image.digest accepts it.
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class ImageRef:
    """``registry/name:tag``; ``registry`` is ``host[:port]`` optionally followed by a path."""

    registry: str
    name: str
    tag: str

    @property
    def repository(self) -> str:
        """``registry/name``: what ``IMAGE_REPOSITORY`` and the chart's image.repository hold."""
        return f"{self.registry}/{self.name}"

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def host(self) -> str:
        return self.registry.split("/", 1)[0]

    @property
    def path(self) -> str:
        """The repository path inside the registry (``prefix/name``), as the API and ECR name it."""
        prefix = self.registry.partition("/")[2]
        return f"{prefix}/{self.name}" if prefix else self.name

    @classmethod
    def parse(cls, reference: str) -> "ImageRef":
        """Split ``registry/name:tag``: the first path segment is the registry."""
        repository, sep, tag = reference.rpartition(":")
        if not sep or "/" in tag or "/" not in repository:
            raise UsageError(f"image reference {reference!r} is not REGISTRY/NAME:TAG")
        registry, _, name = repository.rpartition("/")
        return cls(registry=registry, name=name, tag=tag)


@dataclass(frozen=True)
class RegistryAuth:
    username: str
    password: str = field(repr=False)


def insecure_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``REGISTRY_INSECURE=true``: plain http, no TLS verification (local test registries)."""
    env = os.environ if environ is None else environ
    return is_true(env.get("REGISTRY_INSECURE"))


def _basic(auth: RegistryAuth) -> str:
    token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
    return f"Basic {token}"


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for part in urllib.request.parse_http_list(rest):
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return scheme.lower(), params


class _Client:
    def __init__(self, image: ImageRef, insecure: bool) -> None:
        self.image = image
        self.scheme = "http" if insecure else "https"
        self.context = None
        if insecure:
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    def request(self, method: str, url: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        headers = dict(headers)
        authorization = headers.pop("Authorization", None)
        req = urllib.request.Request(url, method=method, headers=headers)
        if authorization:
            # Not carried over a redirect: urllib copies ordinary headers to wherever the
            # Location points, which would hand the credentials to another host.
            req.add_unredirected_header("Authorization", authorization)
        kwargs = {"timeout": TIMEOUT_SECONDS}
        if url.startswith("https:") and self.context is not None:
            kwargs["context"] = self.context
        try:
            with urllib.request.urlopen(req, **kwargs) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), b""
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CiError(f"registry {self.image.registry} is unreachable: {reason}") from None

    def bearer_token(self, params: dict[str, str], auth: RegistryAuth | None) -> str:
        realm = params.get("realm")
        if not realm:
            raise CiError(f"registry {self.image.registry} sent a token challenge without realm")
        query = {"scope": f"repository:{self.image.path}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = f"{realm}?{urllib.parse.urlencode(query)}"
        headers = {"Authorization": _basic(auth)} if auth else {}
        status, _, body = self.request("GET", url, headers)
        if status in (401, 403):
            raise CiError(f"registry {self.image.registry} rejected the credentials")
        if status != 200:
            raise CiError(f"registry {self.image.registry} token endpoint answered HTTP {status}")
        data = json.loads(body or b"{}")
        token = data.get("token") or data.get("access_token")
        if not token:
            raise CiError(f"registry {self.image.registry} token endpoint sent no token")
        return token


def image_exists(image: ImageRef, auth: RegistryAuth | None, insecure: bool = False) -> bool:
    """Whether ``image.tag`` exists in the registry (HEAD on the manifest).

    Raises CiError (one line) when the registry cannot be reached or refuses the credentials.
    """
    return _head_manifest(image, auth, insecure) is not None


def image_digest(image: ImageRef, auth: RegistryAuth | None, insecure: bool = False) -> str | None:
    """The manifest digest the registry holds for ``image.tag`` (``Docker-Content-Digest``).

    None when the registry sends no valid digest; CiError when the tag is missing, the registry
    cannot be reached or refuses the credentials.
    """
    headers = _head_manifest(image, auth, insecure)
    if headers is None:
        raise CiError(f"image {image.reference} not found in the registry")
    digest = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), "")
    return digest.strip() if DIGEST.fullmatch(digest.strip()) else None


@dataclass(frozen=True)
class Manifest:
    found: bool
    digest: str | None = None  # Docker-Content-Digest, when the registry sends a valid one


def manifest(
    image: ImageRef, reference: str, auth: RegistryAuth | None, insecure: bool = False
) -> Manifest:
    """HEAD on the manifest ``reference`` (a tag or a digest) of ``image``'s repository."""
    headers = _head_manifest(image, auth, insecure, reference)
    if headers is None:
        return Manifest(False)
    digest = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), "")
    return Manifest(True, digest.strip() if DIGEST.fullmatch(digest.strip()) else None)


# ECR's registry hosts, exactly (https://docs.aws.amazon.com/general/latest/gr/ecr.html): a
# substring test would hand the job's ECR token to ``<acct>.dkr.ecr.<region>.amazonaws.com.evil``.
ECR_HOST = re.compile(r"[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
# The variable naming the one registry the pipeline pushes to (``build --registry``).
REGISTRY_VARIABLE = "ECR_REPOSITORY_URL"


def configured_host(environ: Mapping[str, str]) -> str | None:
    """``host[:port]`` of ``ECR_REPOSITORY_URL`` (lower case): the registry given credentials."""
    value = (environ.get(REGISTRY_VARIABLE) or "").strip().rstrip("/")
    if not value or "://" in value:
        return None
    return value.split("/", 1)[0].lower() or None


def is_ecr_host(host: str) -> bool:
    return ECR_HOST.fullmatch(host.lower()) is not None


def auth_from_environ(image: ImageRef, environ: Mapping[str, str] | None = None):
    """Credentials for ``image``'s registry, only when its host is exactly the configured one
    (``ECR_REPOSITORY_URL``): ``REGISTRY_USER``/``REGISTRY_PASSWORD``, else ECR's token when that
    host is an ECR host (``AWS_REGION``, ``AWS_ENDPOINT_URL``). Any other host: None (anonymous),
    so an image reference someone wrote never sends the job's login to a host of their choosing."""
    env = os.environ if environ is None else environ
    if configured_host(env) is None or image.host.lower() != configured_host(env):
        return None
    user, password = env.get("REGISTRY_USER"), env.get("REGISTRY_PASSWORD")
    if user and password:
        return RegistryAuth(user, password)
    if is_ecr_host(image.host):
        return ecr_auth(env.get("AWS_REGION"), env.get("AWS_ENDPOINT_URL"))
    return None


def split_reference(reference: str) -> tuple[ImageRef, str, str] | str:
    """``REGISTRY/NAME[:TAG][@DIGEST]`` -> (image, tag as written, digest); a line when it has
    no registry host."""
    name, _, digest = reference.partition("@")
    repository, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    if "/" not in repository:
        return f"image {reference} has no registry host: cannot verify it"
    registry, _, short = repository.rpartition("/")
    return ImageRef(registry=registry, name=short, tag=tag or "latest"), tag, digest


def verify_reference(reference: str, environ: Mapping[str, str]) -> str | None:
    """None when ``reference`` (REGISTRY/NAME[:TAG][@DIGEST]) is in its registry, else why not.

    Credentials only for the configured registry host (``auth_from_environ``); a reference to
    another host is checked anonymously. CiError (one line) when a registry cannot be reached or
    refuses."""
    parts = split_reference(reference)
    if isinstance(parts, str):
        return parts
    image, tag, digest = parts
    auth = auth_from_environ(image, environ)
    insecure = insecure_from_env(environ)
    tagged = manifest(image, image.tag, auth, insecure) if tag or not digest else None
    if tagged is not None and not tagged.found:
        return f"image {image.repository}:{image.tag} not found in the registry"
    if digest:
        pinned = manifest(image, digest, auth, insecure)
        if not pinned.found:
            return f"image {image.repository}@{digest} not found in the registry"
        if tagged is not None and tagged.digest and tagged.digest != digest:
            return (
                f"image {image.repository}:{tag} is {tagged.digest} in the registry, not {digest}"
            )
    return None


def _head_manifest(
    image: ImageRef, auth: RegistryAuth | None, insecure: bool, reference: str | None = None
) -> dict | None:
    """The response headers of HEAD on the manifest of ``reference`` (default: the tag); None
    when it does not exist."""
    client = _Client(image, insecure)
    reference = reference or image.tag
    url = f"{client.scheme}://{image.host}/v2/{image.path}/manifests/{reference}"
    headers = {"Accept": MANIFEST_TYPES}
    if auth:
        headers["Authorization"] = _basic(auth)
    status, response_headers, _ = client.request("HEAD", url, headers)
    if status == 401:
        challenge = next(
            (v for k, v in response_headers.items() if k.lower() == "www-authenticate"), ""
        )
        scheme, params = _parse_challenge(challenge)
        if scheme == "bearer":
            token = client.bearer_token(params, auth)
            headers["Authorization"] = f"Bearer {token}"
            status, response_headers, _ = client.request("HEAD", url, headers)
    if status == 200:
        return response_headers
    if status == 404:
        return None
    if status in (401, 403):
        what = "rejected the credentials" if auth else "requires credentials"
        raise CiError(f"registry {image.registry} {what}")
    separator = "@" if ":" in reference else ":"  # a digest (sha256:...) or a tag
    raise CiError(
        f"registry {image.registry} answered HTTP {status} for "
        f"{image.repository}{separator}{reference}"
    )


def ecr_client(region: str | None, endpoint_url: str | None):
    """A boto3 ECR client; the endpoint override points it at a local moto server in tests."""
    import boto3  # the pipeline's venv has it; imported here so planning needs no AWS SDK

    if not region:
        raise UsageError("AWS region is not set (--region or AWS_REGION)")
    # A fresh session: credentials are read from the environment now, not cached from earlier.
    session = boto3.session.Session()
    return session.client("ecr", region_name=region, endpoint_url=endpoint_url or None)


def aws_error(error: Exception, action: str) -> CiError:
    """A one-line CiError for a failed AWS call (no credentials, unreachable, refused)."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return CiError(
            f"{action}: no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(error, EndpointConnectionError):
        return CiError(f"{action}: AWS endpoint unreachable ({error.kwargs.get('endpoint_url')})")
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return CiError(f"{action}: {err.get('Code', 'error')}: {err.get('Message', '')}".strip())
    return CiError(f"{action}: {error}")


def ecr_auth(region: str | None, endpoint_url: str | None) -> RegistryAuth:
    """Registry credentials from ECR's GetAuthorizationToken (base64 ``AWS:password``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = ecr_client(region, endpoint_url)
    try:
        data = client.get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, "ECR get-authorization-token failed") from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return RegistryAuth(username=username, password=password)
