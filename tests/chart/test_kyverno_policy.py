"""gitops/kyverno/: the admission policy that makes the cluster verify what the pipeline verifies.

Validated against Kyverno's own ClusterPolicy CRD, vendored in tests/support/schemas/kyverno/
(with unknown fields refused, as kubectl's strict field validation does), and checked for what it
must say: Enforce, every image of this repository, signed by gitops/cosign.pub, with SLSA
provenance from this repository. Kyverno cannot run here: the condition tests evaluate the
policy's key with the ``jmespath`` package (the language Kyverno's Go implementation speaks) and
apply Kyverno's ``Equals`` rule for strings (the value is a wildcard pattern, ``*`` and ``?``),
a stand-in for Kyverno's engine at that boundary.
"""

import copy
import functools
import re
from typing import Any
from urllib.parse import urlsplit

import jmespath
import pytest
import yaml

from app import SERVICE_NAME
from ci import chart, provenance
from ci.gitlab import GitLabContext
from ci.project import CHART_FILE
from tests.chart.conftest import ENVIRONMENTS, REPO_ROOT, only_deployment_container, render_with
from tests.support.crds import crd_errors, strict

POLICY_DIR = REPO_ROOT / "gitops" / "kyverno"
PUBLIC_KEY = REPO_ROOT / provenance.PUBLIC_KEY_PATH
VENDORED_CRD = (
    REPO_ROOT / "tests" / "support" / "schemas" / "kyverno" / "kyverno.io_clusterpolicies.yaml"
)
SHARED_CRD = REPO_ROOT.parent / "shared" / "schemas" / "kyverno-main" / VENDORED_CRD.name
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
PROJECT_URL = yaml.safe_load(CHART_FILE.read_text())["home"]
PROJECT_HOST, PROJECT_PATH = urlsplit(PROJECT_URL).netloc, urlsplit(PROJECT_URL).path
DIGEST = "sha256:" + "ab" * 32
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _crd_schema() -> dict[str, Any]:
    crd = yaml.load(VENDORED_CRD.read_text(), Loader=_LOADER)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return strict(version["schema"]["openAPIV3Schema"])


def crd_schema() -> dict[str, dict[str, Any]]:
    return {"ClusterPolicy": copy.deepcopy(_crd_schema())}


def policies() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def policy() -> dict[str, Any]:
    (only,) = policies()
    return only


def verify_images(doc: dict[str, Any]) -> dict[str, Any]:
    (rule,) = doc["spec"]["rules"]
    (entry,) = rule["verifyImages"]
    return entry


def kyverno_wildcard(pattern: str, text: str) -> bool:
    """Kyverno's wildcard match (ext/wildcard): ``*`` any run of characters, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def pem(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines())


# --- the schema ---------------------------------------------------------------------------------


def test_the_policy_validates_against_kyvernos_crd():
    assert [doc["kind"] for doc in policies()] == ["ClusterPolicy"]
    schemas = crd_schema()
    for doc in policies():
        assert doc["apiVersion"] == "kyverno.io/v1"
        assert crd_errors(schemas, doc) == [], doc["metadata"]["name"]


@pytest.mark.parametrize(
    ("path", "key", "value", "expected"),
    [
        (("spec", "rules", 0, "verifyImages", 0), "mutateDigests", True, "mutateDigests"),
        (("spec", "rules", 0, "verifyImages", 0), "failureAction", "Deny", "'Deny' is not one"),
        (("spec", "rules", 0, "verifyImages", 0, "attestations", 0), "predicate", {}, "predicate"),
        (("spec", "webhookConfiguration"), "failurePolicy", "Sometimes", "'Sometimes'"),
    ],
)
def test_the_schema_refuses_an_unknown_field_or_value(path, key, value, expected):
    doc = copy.deepcopy(policy())
    target = doc
    for step in path:
        target = target[step]
    target[key] = value
    errors = crd_errors(crd_schema(), doc)
    assert any(expected in error for error in errors), errors


def deprecated_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Paths in ``value`` whose schema description says the field is deprecated."""
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key, {})
            if sub.get("description", "").startswith("Deprecated"):
                found.append(f"{where}/{key}")
            found += deprecated_fields(item, sub, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += deprecated_fields(item, schema.get("items", {}), f"{where}/{index}")
    return found


def test_the_policy_uses_no_deprecated_field():
    """validationFailureAction, webhookTimeoutSeconds, predicateType, ...: each has a successor."""
    assert deprecated_fields(policy(), _crd_schema()) == []
    old_style = copy.deepcopy(policy())
    old_style["spec"]["validationFailureAction"] = "Enforce"
    assert deprecated_fields(old_style, _crd_schema()) == ["/spec/validationFailureAction"]


def test_the_vendored_crd_is_kyvernos():
    """The project's copy is the published file, byte for byte (where that file is at hand)."""
    if not SHARED_CRD.is_file():
        pytest.skip(f"no Kyverno CRD at {SHARED_CRD} to compare with")
    assert VENDORED_CRD.read_bytes() == SHARED_CRD.read_bytes()


# --- what it enforces ---------------------------------------------------------------------------


def test_it_enforces_and_fails_closed():
    doc = policy()
    entry = verify_images(doc)
    assert doc["metadata"]["name"] == f"{SERVICE_NAME}-verify-images"
    assert doc["spec"]["webhookConfiguration"]["failurePolicy"] == "Fail"
    assert doc["spec"]["background"] is False
    assert entry["type"] == "Cosign"
    assert entry["failureAction"] == "Enforce"
    assert entry["required"] is True
    assert entry["mutateDigest"] is True
    assert entry["verifyDigest"] is True
    assert "skipImageReferences" not in entry


def rendered_images() -> list[str]:
    images = [only_deployment_container(chart.render_env(env))["image"] for env in ENVIRONMENTS]
    pinned = {"image": {"tag": "0123abcd", "digest": DIGEST}}
    return [*images, only_deployment_container(render_with(pinned))["image"]]


def test_it_covers_every_image_the_chart_runs():
    patterns = verify_images(policy())["imageReferences"]
    for image in rendered_images():
        assert any(kyverno_wildcard(p, image) for p in patterns), image


@pytest.mark.parametrize(
    ("image", "covered"),
    [
        (f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{SERVICE_NAME}:0123abcd", True),
        (f"999999999999.dkr.ecr.us-east-1.amazonaws.com/{SERVICE_NAME}:0123abcd", True),
        (f"registry.example.com/team/{SERVICE_NAME}@{DIGEST}", True),
        (f"registry.example.com/{SERVICE_NAME}:0123abcd@{DIGEST}", True),
        (f"registry.example.com/{SERVICE_NAME}-cache:0123abcd", False),
        ("registry.example.com/other:0123abcd", False),
    ],
)
def test_image_references(image, covered):
    patterns = verify_images(policy())["imageReferences"]
    assert any(kyverno_wildcard(p, image) for p in patterns) is covered


def test_signature_and_provenance_need_the_same_single_key():
    entry = verify_images(policy())
    (attestation,) = entry["attestations"]
    keys = []
    for attestors in (entry["attestors"], attestation["attestors"]):
        (attestor,) = attestors
        assert attestor["count"] == 1
        (only,) = attestor["entries"]
        assert set(only) == {"keys"}
        keys.append(only["keys"])
    assert keys[0] == keys[1]
    assert "-----BEGIN PUBLIC KEY-----" in keys[0]["publicKeys"]
    assert "kms" not in keys[0]
    assert "secret" not in keys[0]
    # Signed with a key, without a transparency log (offline; docs/pipeline.md "Chain of trust").
    assert keys[0]["rekor"] == {"ignoreTlog": True}
    assert keys[0]["ctlog"] == {"ignoreSCT": True}


def test_the_key_is_the_one_the_pipeline_verifies_with():
    """One public key: gitops/cosign.pub, pasted into the policy (Kyverno reads it from there)."""
    if not PUBLIC_KEY.is_file():
        pytest.skip(f"no {provenance.PUBLIC_KEY_PATH}: the project signs nothing yet")
    key = verify_images(policy())["attestors"][0]["entries"][0]["keys"]["publicKeys"]
    assert pem(key) == pem(PUBLIC_KEY.read_text()), (
        "gitops/kyverno/verify-images.yaml's publicKeys differs from gitops/cosign.pub: paste the "
        "file's content into it (both places in the policy use that one anchor)"
    )


# --- the provenance condition ------------------------------------------------------------------


def kyverno_key(expression: str) -> str:
    """``{{ path }}`` -> the JMESPath expression Kyverno evaluates."""
    match = re.fullmatch(r"\{\{\s*(.+?)\s*\}\}", expression)
    assert match, expression
    return match.group(1)


def admits(predicate: dict[str, Any]) -> bool:
    """Kyverno's verdict on an SLSA v1 predicate: every condition of the ``all`` block holds
    (a key that resolves to nothing is an error, i.e. refused)."""
    (attestation,) = verify_images(policy())["attestations"]
    (block,) = attestation["conditions"]
    assert set(block) == {"all"}
    for condition in block["all"]:
        assert condition["operator"] == "Equals"
        found = jmespath.search(kyverno_key(condition["key"]), predicate)
        if not isinstance(found, str) or not kyverno_wildcard(condition["value"], found):
            return False
    return True


def slsa_predicate(project_url: str, ref: str = "main") -> dict[str, Any]:
    """The predicate the sign job attests (ci.provenance), for a pipeline of ``project_url``."""
    context = GitLabContext(
        project_url=project_url,
        commit_sha="0123abcd" + "0" * 32,
        commit_ref_name=ref,
        pipeline_url=f"{project_url}/-/pipelines/1",
    )
    facts = provenance.facts_from_gitlab(context, f"r.example.com/{SERVICE_NAME}:0123abcd", DIGEST)
    return provenance.predicate(facts)


def test_the_attestation_is_the_provenance_the_sign_job_writes():
    (attestation,) = verify_images(policy())["attestations"]
    assert attestation["type"] == provenance.PREDICATE_TYPE == SLSA_PROVENANCE_V1


@pytest.mark.parametrize(
    ("project_url", "admitted"),
    [
        (PROJECT_URL, True),
        (f"{PROJECT_URL}.git", True),  # normalized by ci.provenance
        (f"{PROJECT_URL}/", True),
        (f"{PROJECT_URL}-fork", False),
        (f"https://mirror.example.org{PROJECT_PATH}", False),
        (f"https://{PROJECT_HOST}/attacker/{SERVICE_NAME}", False),
        (PROJECT_URL.replace("https://", "http://", 1), False),
    ],
)
def test_the_provenance_must_name_this_repository(project_url, admitted):
    assert admits(slsa_predicate(project_url)) is admitted
    assert admits(slsa_predicate(project_url, ref="")) is admitted


@pytest.mark.parametrize(
    "broken",
    [
        lambda p: p["buildDefinition"]["externalParameters"].pop("source"),
        lambda p: p["buildDefinition"]["externalParameters"]["source"].pop("repository"),
        lambda p: p["buildDefinition"]["externalParameters"]["source"].update(repository=None),
        lambda p: p.pop("buildDefinition"),
    ],
)
def test_a_provenance_without_its_source_is_refused(broken):
    predicate = slsa_predicate(PROJECT_URL)
    broken(predicate)
    assert admits(predicate) is False


def test_the_cluster_and_the_pipeline_agree_on_the_source():
    """The same predicate passes both checks: the policy's and ``ci.provenance.mismatch``."""
    predicate = slsa_predicate(PROJECT_URL)
    statement = {
        "predicateType": provenance.PREDICATE_TYPE,
        "subject": [{"name": SERVICE_NAME, "digest": {"sha256": DIGEST.removeprefix("sha256:")}}],
        "predicate": predicate,
    }
    expected = provenance.expected_from(
        GitLabContext(project_url=PROJECT_URL), {}, DIGEST, "0123abcd"
    )
    assert provenance.mismatch(statement, expected) is None
    assert admits(predicate) is True


# --- how it ships -------------------------------------------------------------------------------


def test_argo_cd_does_not_sync_it():
    """Applied by a cluster admin: not among the Argo CD manifests, not an environment, and the
    project may not create kyverno.io objects."""
    assert all(doc["kind"] != "ClusterPolicy" for doc in chart.argocd_documents())
    assert "kyverno" not in chart.environments()
    (project,) = [doc for doc in chart.argocd_documents() if doc["kind"] == "AppProject"]
    groups = {
        item["group"]
        for key in ("clusterResourceWhitelist", "namespaceResourceWhitelist")
        for item in project["spec"].get(key, [])
    }
    assert "kyverno.io" not in groups
    assert "*" not in groups
