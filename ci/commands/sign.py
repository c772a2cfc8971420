"""``python -m ci sign``: sign the pushed image by digest, attest its SLSA provenance and SBOM,
write the SBOM as GitLab's cyclonedx report; ``--only trust|sbom`` for one part (``ci.sign``)."""

import argparse
import os
from pathlib import Path

from ci import sign
from ci.errors import UsageError
from ci.gitlab import GitLabContext
from ci.gitops.tags import validate_digest
from ci.options import env_flag
from ci.registry import ImageRef
from ci.signing import SigningKey


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sign",
        help="sign the pushed image, attest its SBOM and SLSA provenance (cosign)",
        description=sign.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env_flag(parser, "--image", "IMAGE", help="REGISTRY/NAME:TAG the build pushed (build.env)")
    env_flag(
        parser,
        "--digest",
        "IMAGE_DIGEST",
        help="the digest the build pushed (build.env; default: the registry's for the tag)",
    )
    env_flag(
        parser,
        "--sbom",
        "SBOM_REPORT",
        default="gl-sbom.cdx.json",
        help="where to write the CycloneDX SBOM (GitLab's cyclonedx report)",
    )
    env_flag(
        parser,
        "--only",
        "SIGN_ONLY",
        metavar="{trust,sbom}",
        help="write only the signature and the SLSA provenance, what deploys verify (trust), or"
        " only the SBOM attestation and report (sbom); default: both",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.image:
        raise UsageError("--image is required (IMAGE, from the build's build.env)")
    inputs = sign.SignInputs(
        image=ImageRef.parse(args.image),
        digest=validate_digest(args.digest) if args.digest else None,
        report=Path(args.sbom),
        key=SigningKey.from_environ(os.environ),
        committed_key=sign.committed_key(),
        parts=sign.parts(args.only),
    )
    return sign.run(inputs, GitLabContext.from_environ())
