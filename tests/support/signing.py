"""What the signing tests share: cosign key pairs (made once per session with the real cosign),
small OCI images pushed through the distribution API, and the environment ``python -m ci``
needs to reach the tests' registry.

``push_image`` uploads one uncompressed layer holding the given files, so syft has something to
catalog: a dpkg status file lists OS packages, a ``*.dist-info/METADATA`` a Python package.
"""

import base64
import hashlib
import io
import json
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from app import SERVICE_NAME
from tests.support.registry import LocalRegistry
from tests.support.tools import require_tools

PASSWORD = "cosign-Key-Pass-31"
SOURCE = f"https://gitlab.example.com/group/{SERVICE_NAME}"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    password: str = field(default=PASSWORD, repr=False)

    def signing_env(self) -> dict[str, str]:
        """The sign job's key variables: the PEM itself (a masked variable's shape)."""
        return {"COSIGN_PRIVATE_KEY": self.private.read_text(), "COSIGN_PASSWORD": self.password}


def generate_key_pair(folder: Path) -> KeyPair:
    cosign = require_tools("cosign")["cosign"]
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [cosign, "generate-key-pair"],
        cwd=folder,
        env={"COSIGN_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin", "HOME": str(folder)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return KeyPair(folder / "cosign.key", folder / "cosign.pub")


def _request(registry: LocalRegistry, method: str, url: str, data: bytes, kind: str) -> dict:
    request = urllib.request.Request(url, data=data or None, method=method)
    if registry.username:
        token = f"{registry.username}:{registry.password}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    if kind:
        request.add_header("Content-Type", kind)
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(response.headers)


def _blob(registry: LocalRegistry, name: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    base = f"http://{registry.host}"
    location = _request(registry, "POST", f"{base}/v2/{name}/blobs/uploads/", b"", "")["Location"]
    location = f"{base}{location}" if location.startswith("/") else location
    separator = "&" if "?" in location else "?"
    url = f"{location}{separator}digest={digest}"
    _request(registry, "PUT", url, data, "application/octet-stream")
    return digest


def layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def push_image(registry: LocalRegistry, name: str, tag: str, files: dict[str, bytes]) -> str:
    """Push a one-layer image holding ``files`` as ``name:tag``; return its manifest digest."""
    data = layer(files)
    layer_digest = _blob(registry, name, data)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _blob(registry, name, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(data),
                }
            ],
        }
    ).encode()
    url = f"http://{registry.host}/v2/{name}/manifests/{tag}"
    _request(registry, "PUT", url, manifest, "application/vnd.oci.image.manifest.v1+json")
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def tags(registry: LocalRegistry, name: str) -> dict[str, str]:
    """Every tag of ``name`` -> the digest it points at (the .sig and .att tags included)."""
    base = f"http://{registry.host}/v2/{name}"
    request = urllib.request.Request(f"{base}/tags/list")
    token = f"{registry.username}:{registry.password}".encode()
    request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        names = json.loads(response.read())["tags"] or []
    found = {}
    for tag in names:
        head = urllib.request.Request(f"{base}/manifests/{tag}", method="HEAD")
        head.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
        head.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
        with urllib.request.urlopen(head, timeout=10) as response:
            found[tag] = response.headers["Docker-Content-Digest"]
    return found


def registry_env(registry: LocalRegistry) -> dict[str, str]:
    """What ``python -m ci`` needs to reach the tests' registry with its login."""
    return {
        "REGISTRY_INSECURE": "true",
        "ECR_REPOSITORY_URL": registry.host,
        "REGISTRY_USER": registry.username or "",
        "REGISTRY_PASSWORD": registry.password or "",
    }


def pipeline_env(commit: str, source: str = SOURCE) -> dict[str, str]:
    """GitLab's variables the provenance is made of (the sign job's pipeline)."""
    return {
        "CI_PROJECT_URL": source,
        "CI_COMMIT_SHA": commit,
        "CI_COMMIT_REF_NAME": "main",
        "CI_PIPELINE_URL": f"{source}/-/pipelines/42",
    }
