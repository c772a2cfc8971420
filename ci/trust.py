"""Verified before every write: an image that ``deploy --verify-image``, ``promote
--verify-image`` or ``check --verify-image`` is about to put in an environment must be in its
registry, signed with the project's key, and carry a signed SLSA provenance of its tag's commit,
built by this project's pipeline from this project's repository (``ci.provenance``).

The key: ``COSIGN_PUBLIC_KEY_FILE`` (a path) when set; else ``gitops/cosign.pub`` as committed on
the branch written to (deploy, promote) or merged into (check: never the merge request's own
copy, which it could change). With neither, the registry check alone runs and one line says the
signature was not verified: a repository adopts signing by committing its public key
(docs/pipeline.md), and from that commit on every write verifies, and refuses what fails.
"""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ci import provenance, signing
from ci.errors import CiError
from ci.gitlab import GitLabContext
from ci.provenance import PUBLIC_KEY_PATH
from ci.registry import ImageRef, auth_from_environ, image_digest, insecure_from_env

PUBLIC_KEY_VARIABLE = "COSIGN_PUBLIC_KEY_FILE"
PROVENANCE_TYPE = "slsaprovenance1"


@dataclass(frozen=True)
class PublicKey:
    text: str
    origin: str  # where it came from, as messages name it


def configured_key(environ: Mapping[str, str], committed: str | None) -> PublicKey | None:
    """The configured key file, else the committed ``gitops/cosign.pub``, else None."""
    path = environ.get(PUBLIC_KEY_VARIABLE)
    if path:
        try:
            return PublicKey(Path(path).read_text(), path)
        except (OSError, UnicodeDecodeError) as error:
            raise CiError(f"{PUBLIC_KEY_VARIABLE}: cannot read {path}: {error}") from None
    if committed and committed.strip():
        return PublicKey(committed, PUBLIC_KEY_PATH)
    return None


def unverified_line(image: str) -> str:
    return (
        f"warning: signature of {image} not verified: no {PUBLIC_KEY_PATH} on the branch and"
        f" {PUBLIC_KEY_VARIABLE} is not set"
    )


@contextlib.contextmanager
def _key_file(key: PublicKey) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ci-cosign-pub-") as folder:
        path = Path(folder) / "cosign.pub"
        path.write_text(key.text)
        yield path


def verify_image(
    image: ImageRef,
    digest: str,
    key: PublicKey,
    environ: Mapping[str, str] = os.environ,
    context: GitLabContext | None = None,
) -> None:
    """CiError, one line naming what failed, unless ``image``'s ``digest`` is signed with
    ``key`` and has the expected provenance (both verified at once, two cosign processes)."""
    context = context or GitLabContext.from_environ(environ)
    expected = provenance.expected_from(context, environ, digest, image.tag)
    reference = f"{image.repository}@{digest}"
    with signing.registry_access(image, environ) as registry, _key_file(key) as key_file:
        results = signing.verified(reference, registry, key_file, (None, PROVENANCE_TYPE))
    signature, attestations = results[None], results[PROVENANCE_TYPE]
    if isinstance(signature, str):
        raise CiError(f"image {reference} is not signed with {key.origin}: {signature}")
    if isinstance(attestations, str):
        raise CiError(
            f"image {reference} has no SLSA provenance signed with {key.origin}: {attestations}"
        )
    problem = provenance.first_mismatch(provenance.statements(attestations), expected)
    if problem:
        raise CiError(f"image {reference} provenance does not match: {problem}")


class SignedImageVerifier:
    """``verify(repository, tag, public_key=None, digest=None) -> digest`` for the write-back:
    the registry must have the image (its digest is returned); with a key (the committed text,
    or ``COSIGN_PUBLIC_KEY_FILE``), ``digest`` (else the registry's) must be signed and carry
    the expected provenance. CiError (exit 1, nothing committed) otherwise. ``unverified``: the
    images checked without a key, for the command to say so once it is done."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self.environ = environ
        self.unverified: list[str] = []

    def __call__(
        self, repository: str, tag: str, public_key: str | None = None, digest: str | None = None
    ) -> str | None:
        image = ImageRef.parse(f"{repository}:{tag}")
        environ = self.environ
        try:
            auth = auth_from_environ(image, environ)
            found = image_digest(image, auth, insecure_from_env(environ))
            key = configured_key(environ, public_key)
            if key is None:
                self.unverified.append(image.reference)
                return found
            if not (digest or found):
                raise CiError(
                    f"the registry sent no digest for {image.reference}: cannot verify it"
                )
            verify_image(image, digest or found or "", key, environ)
        except CiError as error:
            raise CiError(f"{error}: nothing committed") from None
        return found

    def warn(self) -> None:
        """One line per image written without its signature verified (no key anywhere)."""
        for image in dict.fromkeys(self.unverified):
            print(unverified_line(image), file=sys.stderr)


def run_verified(write, verify_image: bool) -> int:
    """``write(verify) -> exit code`` with a ``SignedImageVerifier`` when ``verify_image``;
    then the warnings of what it could not verify."""
    if not verify_image:
        return write(None)
    verifier = SignedImageVerifier()
    code = write(verifier)
    verifier.warn()
    return code
