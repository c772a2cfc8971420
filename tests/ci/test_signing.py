"""ci.signing: the key reference, the registry access the tools get, where the tools are found,
and what a failed tool says (no tool runs here: the real cosign runs in test_trust and
tests/ci/commands/test_sign)."""

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from app import SERVICE_NAME
from ci.errors import CiError, UsageError
from ci.registry import ImageRef
from ci.signing import SigningKey, last_words, registry_access, tool

PEM = (
    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n"
    "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
)


def test_the_key_is_a_reference_never_the_key_itself(tmp_path: Path) -> None:
    key_file = tmp_path / "cosign.key"
    key_file.write_text(PEM)
    assert SigningKey.from_environ({}) is None
    # A masked variable holding the PEM: cosign reads the variable itself.
    assert (
        SigningKey.from_environ({"COSIGN_PRIVATE_KEY": PEM}).reference == "env://COSIGN_PRIVATE_KEY"
    )
    # A GitLab file variable: the variable holds the file's path.
    assert SigningKey.from_environ({"COSIGN_PRIVATE_KEY": str(key_file)}).reference == str(key_file)
    kms = f"awskms:///alias/{SERVICE_NAME}-signing"
    assert SigningKey.from_environ({"COSIGN_KEY": kms, "COSIGN_PRIVATE_KEY": PEM}).reference == kms
    with pytest.raises(UsageError) as raised:
        SigningKey.from_environ({"COSIGN_PRIVATE_KEY": "secret-ish text"})
    assert str(raised.value) == "COSIGN_PRIVATE_KEY is neither a PEM key nor a file's path"
    assert "secret-ish" not in repr(SigningKey.from_environ({"COSIGN_PRIVATE_KEY": PEM}))


ENVIRON = {
    "ECR_REPOSITORY_URL": "registry.example.com:5000",
    "REGISTRY_USER": "ci",
    "REGISTRY_PASSWORD": "registry-Secret-9",
    "PATH": "/usr/bin",
}


def config_of(access) -> dict:
    return json.loads((Path(access.env["DOCKER_CONFIG"]) / "config.json").read_text())


def test_the_registry_login_goes_to_the_configured_host_only_and_is_removed_after() -> None:
    image = ImageRef.parse(f"registry.example.com:5000/{SERVICE_NAME}:0123abcd")
    with registry_access(image, ENVIRON) as access:
        folder = Path(access.env["DOCKER_CONFIG"])
        mode = stat.S_IMODE(os.stat(folder / "config.json").st_mode)
        token = base64.b64encode(b"ci:registry-Secret-9").decode()
        assert config_of(access) == {"auths": {"registry.example.com:5000": {"auth": token}}}
        assert access.flags == ()
        assert "registry-Secret-9" not in repr(access)
    assert mode == 0o600
    assert not folder.exists()
    other = ImageRef.parse(f"elsewhere.example.com/{SERVICE_NAME}:0123abcd")
    with registry_access(other, ENVIRON) as access:
        assert config_of(access) == {"auths": {}}


def test_a_plain_http_registry_is_named_to_both_tools() -> None:
    image = ImageRef.parse(f"127.0.0.1:5000/{SERVICE_NAME}:0123abcd")
    with registry_access(image, {**ENVIRON, "REGISTRY_INSECURE": "true"}) as access:
        assert access.flags == ("--allow-http-registry", "--allow-insecure-registry")
        assert access.env["SYFT_REGISTRY_INSECURE_USE_HTTP"] == "true"


def test_tools_come_from_the_tools_folder_first(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "cosign").write_text("")
    assert tool("cosign", {"TOOLS_DIR": str(tmp_path), "PATH": ""}) == str(
        tmp_path / "bin" / "cosign"
    )
    with pytest.raises(CiError) as raised:
        tool("syft", {"TOOLS_DIR": str(tmp_path), "PATH": ""})
    assert str(raised.value) == f"syft not found in {tmp_path / 'bin'} or on PATH: run `make tools`"


def test_a_failed_tool_is_told_by_its_error_line() -> None:
    stderr = (
        "WARNING: Skipping tlog verification is an insecure practice\n"
        "Error: no matching signatures: invalid signature when validating ASN.1 encoded signature\n"
        "error during command execution: no matching signatures: invalid signature\n"
    )
    assert last_words(stderr) == (
        "no matching signatures: invalid signature when validating ASN.1 encoded signature"
    )
    assert last_words("") == "no output"
    assert last_words("one\nlast line\n") == "last line"
