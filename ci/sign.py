"""``python -m ci sign``: sign the image the build pushed, attach its SLSA provenance and its SBOM
as cosign attestations, and write the SBOM as GitLab's ``cyclonedx`` report.

It runs in jobs of its own after ``build`` (the build's script never sees the signing key), on
the digest the build wrote to ``build.env`` (``IMAGE``, ``IMAGE_DIGEST``). ``--only`` splits the
work between the pipeline's two signing jobs: ``trust``, what every deploy verifies (the
signature and the provenance: the ``sign`` job, before ``deploy-dev``), and ``sbom`` (the SBOM
attestation and report: the ``sbom`` job, after ``sign`` and beside ``deploy-dev``; one after the
other, since cosign keeps a digest's attestations under one tag). Without it, both. Steps:

1. **The pushed digest.** The registry must hold it, and the tag must still point at it.
2. **The key.** ``COSIGN_KEY`` or ``COSIGN_PRIVATE_KEY`` (``ci.signing.SigningKey``); its public
   half must be the committed ``gitops/cosign.pub`` (else every deploy would refuse the image).
   No key and no committed public key: the SBOM report alone, and one line saying nothing was
   signed.
3. **SBOM** (``sbom``; CycloneDX JSON, syft, from the registry by digest): attested as
   ``cyclonedx``.
4. **Provenance** (``trust``; ``ci.provenance``): attested as ``slsaprovenance1``.
5. **Signature** (``trust``): ``cosign sign`` on the digest.

Each of 3-5 is verified first with the key's public half when the registry holds cosign's tag
for it (``sha256-<hex>.sig``, ``.att``), and written only when no valid one is there: a retried
job changes nothing, and a first run asks the registry, not cosign. 4 and 5 are written at once
(two cosign processes, two tags). The report is then the attested SBOM itself.
"""

import enum
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
NO_KEY = "not signed: no signing key (COSIGN_PRIVATE_KEY)"


class Part(enum.Enum):
    """What a run writes: ``trust`` (signature and provenance, what deploys verify) or
    ``sbom`` (the SBOM attestation and GitLab's report)."""

    TRUST = "trust"
    SBOM = "sbom"


ALL_PARTS = frozenset(Part)


def parts(only: str | None) -> frozenset[Part]:
    """``--only``'s value as the parts to write: both when not given."""
    if not only:
        return ALL_PARTS
    try:
        return frozenset({Part(only.strip().lower())})
    except ValueError:
        choices = ", ".join(part.value for part in Part)
        raise UsageError(f"--only {only!r} is not one of {choices} (SIGN_ONLY)") from None


@dataclass(frozen=True)
class SignInputs:
    image: ImageRef
    digest: str | None
    report: Path
    key: SigningKey | None
    committed_key: str | None  # gitops/cosign.pub in this checkout
    parts: frozenset[Part] = ALL_PARTS


@dataclass(frozen=True)
class Pushed:
    """The digest to sign, and which of cosign's tags for it the registry holds already."""

    digest: str
    signature_tag: bool
    attestation_tag: bool


def pushed_digest(image: ImageRef, digest: str | None, environ: Mapping[str, str]) -> Pushed:
    """The digest to sign: the build's, which the registry must hold under the tag."""
    auth = registry.auth_from_environ(image, environ)
    insecure = registry.insecure_from_env(environ)
    tagged = registry.manifest(image, image.tag, auth, insecure)
    if not tagged.found:
        raise CiError(f"image {image.reference} not found in the registry: nothing signed")
    if digest is None:
        if tagged.digest is None:
            raise CiError(f"the registry sent no digest for {image.reference}: nothing signed")
        digest = tagged.digest
    elif not registry.manifest(image, digest, auth, insecure).found:
        raise CiError(
            f"image {image.repository}@{digest} not found in the registry: nothing signed"
        )
    elif tagged.digest and tagged.digest != digest:
        raise CiError(
            f"the registry has {tagged.digest} for {image.reference}, not the build's {digest}:"
            " nothing signed"
        )
    tag = digest.replace(":", "-")  # cosign's tags for the digest: sha256-<hex>.sig and .att
    return Pushed(
        digest,
        registry.manifest(image, f"{tag}.sig", auth, insecure).found,
        registry.manifest(image, f"{tag}.att", auth, insecure).found,
    )


def build_facts(image: ImageRef, digest: str, context: GitLabContext) -> provenance.BuildFacts:
    facts = provenance.facts_from_gitlab(context, image.reference, digest)
    if looks_like_commit(image.tag) and not facts.commit.startswith(image.tag):
        raise UsageError(f"tag {image.tag} is not the commit {facts.commit} this pipeline built")
    return facts


def _same_key(one: str, other: str) -> bool:
    return "".join(one.split()) == "".join(other.split())


def run(inputs: SignInputs, context: GitLabContext, environ: Mapping[str, str] = os.environ) -> int:
    pushed = pushed_digest(inputs.image, inputs.digest, environ)
    reference = f"{inputs.image.repository}@{pushed.digest}"
    with signing.registry_access(inputs.image, environ) as access:
        if inputs.key is None:
            print(_without_key(inputs, reference, access))
            return 0
        facts = build_facts(inputs.image, pushed.digest, context)
        public = signing.public_key(access, inputs.key)
        if inputs.committed_key and not _same_key(public, inputs.committed_key):
            raise UsageError(f"the signing key is not the one in {PUBLIC_KEY_PATH}: nothing signed")
        with tempfile.TemporaryDirectory(prefix="ci-sign-") as scratch:
            work = Work(reference, access, inputs.key, Path(scratch), public)
            written = work.sign(facts, pushed, inputs.parts, inputs.report)
    done = ", ".join(written) if written else "nothing: already signed and attested"
    report = f"; SBOM report {inputs.report}" if Part.SBOM in inputs.parts else ""
    print(f"{reference}: wrote {done}{report}", flush=True)
    return 0


def _without_key(inputs: SignInputs, reference: str, access: Registry) -> str:
    """No signing key: refused when a public key is committed, else the SBOM report alone."""
    if inputs.committed_key:
        raise UsageError(
            f"{PUBLIC_KEY_PATH} is committed but no signing key is set (COSIGN_KEY or"
            " COSIGN_PRIVATE_KEY): deploys would refuse this image"
        )
    if Part.SBOM not in inputs.parts:
        return NO_KEY
    signing.sbom(reference, access, inputs.report)
    return f"wrote {inputs.report}; {NO_KEY}"


@dataclass
class Work:
    """One digest's signing: what is verified there already, and what is written."""

    reference: str
    access: Registry
    key: SigningKey
    scratch: Path
    public: str

    def sign(
        self, facts: provenance.BuildFacts, pushed: Pushed, parts: frozenset[Part], report: Path
    ) -> list[str]:
        found = self.verified(pushed, parts)
        written = []
        if Part.SBOM in parts:
            written += self.sbom(found[SBOM_TYPE], report)
        if Part.TRUST in parts:
            written += self.trust(facts, found)
        return written

    def verified(self, pushed: Pushed, parts: frozenset[Part]) -> dict[str | None, list | str]:
        """What cosign verifies of each kind ``parts`` write, or why not (a line); a kind
        whose tag the registry does not hold is not there, and cosign is not asked."""
        kinds: list[str | None] = [SBOM_TYPE] if Part.SBOM in parts else []
        kinds += [None, PROVENANCE_TYPE] if Part.TRUST in parts else []
        held = {
            None: pushed.signature_tag,
            SBOM_TYPE: pushed.attestation_tag,
            PROVENANCE_TYPE: pushed.attestation_tag,
        }
        asked = tuple(kind for kind in kinds if held[kind])
        key_file = self.scratch / "cosign.pub"
        key_file.write_text(self.public)
        found = signing.verified(self.reference, self.access, key_file, asked) if asked else {}
        return {kind: found.get(kind, "not in the registry") for kind in kinds}

    def sbom(self, have: list[dict] | str, report: Path) -> list[str]:
        sbom = _attested_sbom(have)
        if sbom is not None:
            report.write_text(json.dumps(sbom, indent=2) + "\n")
            return []
        signing.sbom(self.reference, self.access, report)
        signing.attest(self.reference, self.access, self.key, SBOM_TYPE, report)
        return ["SBOM attestation"]

    def trust(self, facts: provenance.BuildFacts, found: dict) -> list[str]:
        """The provenance and the signature, each when missing: both at once."""
        expected = provenance.Expected(
            facts.digest, facts.commit, facts.source_repository, facts.builder_id
        )
        have = found[PROVENANCE_TYPE]
        commands, written = [], []
        if isinstance(have, str) or provenance.first_mismatch(
            provenance.statements(have), expected
        ):
            path = self.scratch / "provenance.json"
            path.write_text(json.dumps(provenance.predicate(facts), indent=2))
            commands.append(
                signing.attest_command(self.reference, self.access, self.key, PROVENANCE_TYPE, path)
            )
            written.append("SLSA provenance attestation")
        if isinstance(found[None], str):
            commands.append(signing.sign_command(self.reference, self.access, self.key))
            written.append("signature")
        signing.run_tools(commands, self.access.env)
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
