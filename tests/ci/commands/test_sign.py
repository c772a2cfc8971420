"""``python -m ci sign`` against the real registry with the real cosign and syft: the SBOM (the
GitLab cyclonedx report, checked against CycloneDX's schema) and the SLSA provenance attested on
the digest, the digest signed, in one run or in the pipeline's two (``--only trust``, then
``--only sbom``); a retried job changes nothing."""

import base64
import json
import subprocess
from pathlib import Path

import pytest

from app import SERVICE_NAME
from tests.support.cli import run_ci
from tests.support.registry import running_registry
from tests.support.signing import (
    SOURCE,
    pipeline_env,
    push_image,
    registry_env,
    tags,
)
from tests.support.tools import require_tools

USER, PASSWORD = "ci", "registry-Secret-52"
COMMIT = "0123abcd" + "5" * 32
TAG = COMMIT[:8]
REPORT = "gl-sbom.cdx.json"
ROOT = Path(__file__).resolve().parents[3]


def test_the_image_is_required(tmp_path: Path, ci) -> None:
    result = ci("sign", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "error: --image is required (IMAGE, from the build's build.env)\n",
    )


def test_only_names_a_part(tmp_path: Path, ci) -> None:
    result = ci("sign", "--image", "127.0.0.1:5000/x:0123abcd", "--only", "all", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "error: --only 'all' is not one of trust, sbom (SIGN_ONLY)\n",
    )


def locked(name: str) -> str:
    """The version ``requirements.lock`` pins for ``name``."""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==")[1].split()[0]
    raise AssertionError(name)


DPKG_STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 2.36-9+deb12u13
Description: GNU C Library: Shared libraries

Package: python3.11-minimal
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.11.2-6+deb12u6
Description: Minimal subset of the Python language (version 3.11)
"""


def image_files() -> dict[str, bytes]:
    """An image shaped like the service's: Debian's package database, the venv's packages."""
    site = "opt/venv/lib/python3.11/site-packages"
    files = {
        "etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
        "var/lib/dpkg/status": DPKG_STATUS.encode(),
    }
    for name in ("fastapi", "uvicorn"):
        version = locked(name)
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        files[f"{site}/{name}-{version}.dist-info/METADATA"] = metadata.encode()
        files[f"{site}/{name}-{version}.dist-info/RECORD"] = b""
    return files


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry", USER, PASSWORD) as running:
        yield running


def checkout(tmp_path: Path, public_key: Path | None) -> Path:
    """The sign job's working directory: the repository's gitops/cosign.pub, when committed."""
    folder = tmp_path / "checkout"
    (folder / "gitops").mkdir(parents=True, exist_ok=True)
    if public_key is not None:
        (folder / "gitops" / "cosign.pub").write_text(public_key.read_text())
    return folder


def cosign_verify(registry, reference: str, key: Path, *verb: str) -> list[dict]:
    """The real ``cosign verify`` / ``verify-attestation`` as an admission controller runs it."""
    cosign = require_tools("cosign")["cosign"]
    argv = [cosign, *(verb or ("verify",)), "--key", str(key), "--insecure-ignore-tlog"]
    argv += ["--allow-http-registry", "--output", "json", reference]
    config = Path(registry.root) / "docker-config"
    config.mkdir(exist_ok=True)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    result = subprocess.run(
        argv, env={"DOCKER_CONFIG": str(config)}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith(("[", "{"))]


def statement_of(envelope: dict) -> dict:
    return json.loads(base64.b64decode(envelope["payload"]))


def validate_cyclonedx(document: dict) -> None:
    """Against CycloneDX's official JSON schema for the report's specVersion, as GitLab's
    cyclonedx report parser validates it (GitLab reads 1.4, 1.5 and 1.6)."""
    import cyclonedx
    import jsonschema
    from referencing import Registry, Resource

    assert document["specVersion"] in ("1.4", "1.5", "1.6")
    folder = Path(cyclonedx.__file__).parent / "schema" / "_res"
    resources = []
    for path in folder.glob("*.json"):
        resource = Resource.from_contents(json.loads(path.read_text()))
        resources.append((f"http://cyclonedx.org/schema/{path.name}", resource))
    schema = json.loads(
        (folder / f"bom-{document['specVersion']}.SNAPSHOT.schema.json").read_text()
    )
    validator = jsonschema.Draft7Validator(schema, registry=Registry().with_resources(resources))
    errors = sorted(validator.iter_errors(document), key=str)
    assert errors == [], errors[0].message


@pytest.mark.integration
class TestSign:
    @pytest.fixture(autouse=True)
    def setup(self, tmp_path, keys, registry) -> None:
        require_tools("cosign", "syft")
        self.keys, self.registry, self.tmp = keys, registry, tmp_path
        self.repository = f"{registry.host}/{SERVICE_NAME}"
        self.digest = push_image(registry, SERVICE_NAME, TAG, image_files())
        self.reference = f"{self.repository}@{self.digest}"

    def sign(
        self,
        key: str | None = "project",
        committed: str | None = "project",
        only: str | None = None,
        **extra,
    ):
        env = {
            **registry_env(self.registry),
            **pipeline_env(COMMIT),
            "IMAGE": f"{self.repository}:{TAG}",
            "IMAGE_DIGEST": self.digest,
            **(self.keys[key].signing_env() if key else {}),
            **extra,
        }
        folder = checkout(self.tmp, self.keys[committed].public if committed else None)
        result = run_ci(
            "sign", *(["--only", only] if only else []), env=env, cwd=folder, timeout=300
        )
        return result, folder / REPORT

    def test_signs_the_digest_and_attests_its_sbom_and_provenance(self) -> None:
        result, report = self.sign()
        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            f"{self.reference}: wrote SBOM attestation, SLSA provenance attestation, signature;"
            f" SBOM report {REPORT}\n"
        )
        public = self.keys["project"].public
        signature = cosign_verify(self.registry, self.reference, public)
        [[claims]] = signature
        assert claims["critical"]["image"]["docker-manifest-digest"] == self.digest
        [envelope] = cosign_verify(
            self.registry, self.reference, public, "verify-attestation", "--type", "slsaprovenance1"
        )
        provenance = statement_of(envelope)
        assert provenance["subject"][0]["digest"] == {"sha256": self.digest.removeprefix("sha256:")}
        source = provenance["predicate"]["buildDefinition"]["externalParameters"]["source"]
        assert source == {"repository": SOURCE, "ref": "main", "commit": COMMIT}
        assert provenance["predicate"]["runDetails"]["builder"] == {"id": f"{SOURCE}/-/pipelines"}
        [sbom_envelope] = cosign_verify(
            self.registry, self.reference, public, "verify-attestation", "--type", "cyclonedx"
        )
        attested = statement_of(sbom_envelope)
        assert attested["subject"][0]["digest"]["sha256"] == self.digest.removeprefix("sha256:")
        assert attested["predicate"] == json.loads(report.read_text())

    def test_the_trust_part_then_the_sbom_part_write_all_three(self) -> None:
        """The pipeline's split: the sign job writes what deploys verify (no syft, no report),
        the sbom job after it adds the SBOM beside the provenance in the digest's .att tag."""
        trust, report = self.sign(only="trust")
        assert trust.returncode == 0, trust.stderr
        assert trust.stdout == f"{self.reference}: wrote SLSA provenance attestation, signature\n"
        assert not report.exists()
        public = self.keys["project"].public
        cosign_verify(self.registry, self.reference, public)
        sbom, report = self.sign(only="sbom")
        assert sbom.returncode == 0, sbom.stderr
        assert sbom.stdout == f"{self.reference}: wrote SBOM attestation; SBOM report {REPORT}\n"
        [envelope] = cosign_verify(
            self.registry, self.reference, public, "verify-attestation", "--type", "slsaprovenance1"
        )
        assert statement_of(envelope)["predicate"]["buildDefinition"]["externalParameters"][
            "source"
        ] == {"repository": SOURCE, "ref": "main", "commit": COMMIT}
        [sbom_envelope] = cosign_verify(
            self.registry, self.reference, public, "verify-attestation", "--type", "cyclonedx"
        )
        assert statement_of(sbom_envelope)["predicate"] == json.loads(report.read_text())
        before = tags(self.registry, SERVICE_NAME)
        again, _ = self.sign(only="trust")
        assert again.stdout == (
            f"{self.reference}: wrote nothing: already signed and attested\n"
        ), again.stderr
        assert tags(self.registry, SERVICE_NAME) == before

    def test_the_trust_part_without_any_key_writes_nothing(self) -> None:
        before = tags(self.registry, SERVICE_NAME)
        result, report = self.sign(key=None, committed=None, only="trust")
        assert (result.returncode, result.stdout) == (
            0,
            "not signed: no signing key (COSIGN_PRIVATE_KEY)\n",
        )
        assert not report.exists()
        assert tags(self.registry, SERVICE_NAME) == before

    def test_the_sbom_lists_python_and_os_packages_with_versions(self) -> None:
        result, report = self.sign()
        assert result.returncode == 0, result.stderr
        document = json.loads(report.read_text())
        validate_cyclonedx(document)
        found = {(c["name"], c.get("version")) for c in document["components"]}
        assert {("fastapi", locked("fastapi")), ("uvicorn", locked("uvicorn"))} <= found
        assert {("libc6", "2.36-9+deb12u13"), ("python3.11-minimal", "3.11.2-6+deb12u6")} <= found
        purls = {c.get("purl", "") for c in document["components"]}
        assert f"pkg:pypi/fastapi@{locked('fastapi')}" in purls
        assert any(purl.startswith("pkg:deb/debian/libc6@2.36-9") for purl in purls)

    def test_a_retried_job_changes_nothing(self) -> None:
        first, report = self.sign()
        assert first.returncode == 0, first.stderr
        sbom = report.read_text()
        before = tags(self.registry, SERVICE_NAME)
        report.unlink()
        again, report = self.sign()
        assert again.returncode == 0, again.stderr
        assert again.stdout == (
            f"{self.reference}: wrote nothing: already signed and attested; SBOM report {REPORT}\n"
        )
        assert tags(self.registry, SERVICE_NAME) == before
        assert json.loads(report.read_text()) == json.loads(sbom)

    def test_a_key_other_than_the_committed_one_signs_nothing(self) -> None:
        before = tags(self.registry, SERVICE_NAME)
        result, _ = self.sign(key="other", committed="project")
        assert (result.returncode, result.stderr) == (
            2,
            "error: the signing key is not the one in gitops/cosign.pub: nothing signed\n",
        )
        assert tags(self.registry, SERVICE_NAME) == before

    def test_a_committed_key_without_a_signing_key_fails(self) -> None:
        result, _ = self.sign(key=None, committed="project")
        assert result.returncode == 2
        assert result.stderr.startswith("error: gitops/cosign.pub is committed but no signing key")

    def test_without_any_key_the_sbom_report_alone_is_written(self) -> None:
        before = tags(self.registry, SERVICE_NAME)
        result, report = self.sign(key=None, committed=None)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"wrote {REPORT}; not signed: no signing key (COSIGN_PRIVATE_KEY)\n"
        assert json.loads(report.read_text())["bomFormat"] == "CycloneDX"
        assert tags(self.registry, SERVICE_NAME) == before

    def test_a_tag_re_pointed_since_the_build_is_not_signed(self) -> None:
        moved = push_image(self.registry, SERVICE_NAME, TAG, {"other": b"x"})
        result, _ = self.sign()
        assert (result.returncode, result.stderr) == (
            1,
            f"error: the registry has {moved} for {self.repository}:{TAG}, not the build's"
            f" {self.digest}: nothing signed\n",
        )
        assert not any(tag.startswith("sha256-") for tag in tags(self.registry, SERVICE_NAME))
