"""``python -m ci sign``: sign the image the build pushed, attach its SBOM and its SLSA
provenance as cosign attestations, and write the SBOM as GitLab's ``cyclonedx`` report.

It runs in its own job after ``build`` (the build's script never sees the signing key), on the
digest the build wrote to ``build.env`` (``IMAGE``, ``IMAGE_DIGEST``). Steps:

1. **The pushed digest.** The registry must hold it, and the tag must still point at it.
2. **The key.** ``COSIGN_KEY`` or ``COSIGN_PRIVATE_KEY`` (``ci.signing.SigningKey``); its public
   half must be the committed ``gitops/cosign.pub`` (else every deploy would refuse the image).
   No key and no committed public key: the SBOM report alone, and one line saying nothing was
   signed.
3. **SBOM** (CycloneDX JSON, syft, from the registry by digest): attested as ``cyclonedx``.
4. **Provenance** (``ci.provenance``): attested as ``slsaprovenance1``.
5. **Signature**: ``cosign sign`` on the digest.

Each of 3-5 is verified first with the key's public half, and written only when no valid one is
there: a retried job changes nothing. The report is then the attested SBOM itself.
"""

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci import provenance, registry, signing
from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.tags import looks_like_commit
from ci.provenance import PUBLIC_KEY_PATH
from ci.registry import ImageRef
from ci.signing import Registry, SigningKey
from ci.trust import PROVENANCE_TYPE

SBOM_TYPE = "cyclonedx"


@dataclass(frozen=True)
class SignInputs:
    image: ImageRef
    digest: str | None
    report: Path
    key: SigningKey | None
    committed_key: str | None  # gitops/cosign.pub in this checkout


def pushed_digest(image: ImageRef, digest: str | None, environ: Mapping[str, str]) -> str:
    """The digest to sign: the build's, which the registry must hold under the tag."""
    auth = registry.auth_from_environ(image, environ)
    insecure = registry.insecure_from_env(environ)
    tagged = registry.manifest(image, image.tag, auth, insecure)
    if not tagged.found:
        raise CiError(f"image {image.reference} not found in the registry: nothing signed")
    if digest is None:
        if tagged.digest is None:
            raise CiError(f"the registry sent no digest for {image.reference}: nothing signed")
        return tagged.digest
    if not registry.manifest(image, digest, auth, insecure).found:
        raise CiError(
            f"image {image.repository}@{digest} not found in the registry: nothing signed"
        )
    if tagged.digest and tagged.digest != digest:
        raise CiError(
            f"the registry has {tagged.digest} for {image.reference}, not the build's {digest}:"
            " nothing signed"
        )
    return digest


def build_facts(image: ImageRef, digest: str, context: GitLabContext) -> provenance.BuildFacts:
    facts = provenance.facts_from_gitlab(context, image.reference, digest)
    if looks_like_commit(image.tag) and not facts.commit.startswith(image.tag):
        raise UsageError(f"tag {image.tag} is not the commit {facts.commit} this pipeline built")
    return facts


def _same_key(one: str, other: str) -> bool:
    return "".join(one.split()) == "".join(other.split())


def run(inputs: SignInputs, context: GitLabContext, environ: Mapping[str, str] = os.environ) -> int:
    digest = pushed_digest(inputs.image, inputs.digest, environ)
    reference = f"{inputs.image.repository}@{digest}"
    with signing.registry_access(inputs.image, environ) as access:
        if inputs.key is None:
            if inputs.committed_key:
                raise UsageError(
                    f"{PUBLIC_KEY_PATH} is committed but no signing key is set (COSIGN_KEY or"
                    " COSIGN_PRIVATE_KEY): deploys would refuse this image"
                )
            signing.sbom(reference, access, inputs.report)
            print(f"wrote {inputs.report}; not signed: no signing key (COSIGN_PRIVATE_KEY)")
            return 0
        facts = build_facts(inputs.image, digest, context)
        public = signing.public_key(access, inputs.key)
        if inputs.committed_key and not _same_key(public, inputs.committed_key):
            raise UsageError(f"the signing key is not the one in {PUBLIC_KEY_PATH}: nothing signed")
        with tempfile.TemporaryDirectory(prefix="ci-sign-") as scratch:
            work = Work(reference, access, inputs.key, Path(scratch), public)
            written = work.sign_all(facts, inputs.report)
    done = ", ".join(written) if written else "nothing: already signed and attested"
    print(f"{reference}: wrote {done}; SBOM report {inputs.report}", flush=True)
    return 0


@dataclass
class Work:
    """One digest's signing: what is verified there already, and what is written."""

    reference: str
    access: Registry
    key: SigningKey
    scratch: Path
    public: str

    def sign_all(self, facts: provenance.BuildFacts, report: Path) -> list[str]:
        key_file = self.scratch / "cosign.pub"
        key_file.write_text(self.public)
        kinds = (None, SBOM_TYPE, PROVENANCE_TYPE)
        found = signing.verified(self.reference, self.access, key_file, kinds)
        written = []
        sbom = _attested_sbom(found[SBOM_TYPE])
        if sbom is None:
            signing.sbom(self.reference, self.access, report)
            signing.attest(self.reference, self.access, self.key, SBOM_TYPE, report)
            written.append("SBOM attestation")
        else:
            report.write_text(json.dumps(sbom, indent=2) + "\n")
        expected = provenance.Expected(
            facts.digest, facts.commit, facts.source_repository, facts.builder_id
        )
        have = found[PROVENANCE_TYPE]
        if isinstance(have, str) or provenance.first_mismatch(
            provenance.statements(have), expected
        ):
            path = self.scratch / "provenance.json"
            path.write_text(json.dumps(provenance.predicate(facts), indent=2))
            signing.attest(self.reference, self.access, self.key, PROVENANCE_TYPE, path)
            written.append("SLSA provenance attestation")
        if isinstance(found[None], str):
            signing.sign(self.reference, self.access, self.key)
            written.append("signature")
        return written


def _attested_sbom(found: list[dict] | str) -> dict | None:
    """The SBOM of a verified cyclonedx attestation, or None when there is none."""
    if isinstance(found, str):
        return None
    for statement in provenance.statements(found):
        predicate = statement.get("predicate")
        if isinstance(predicate, dict) and predicate.get("bomFormat") == "CycloneDX":
            return predicate
    return None


def committed_key(root: Path | None = None) -> str | None:
    """``gitops/cosign.pub`` in this checkout, when there is one."""
    path = (root or Path.cwd()) / PUBLIC_KEY_PATH
    return path.read_text() if path.is_file() else None
