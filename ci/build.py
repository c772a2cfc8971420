"""``python -m ci build``: build the image with buildah and push it to ECR, once per tag.

Steps: make sure the ECR repository exists (scan on push, immutable tags, AES256), skip when the
tag is already in the registry, log in (the ECR token goes to ``buildah login --password-stdin``,
never onto a command line), ``buildah bud --timestamp`` (``--layers`` unless ``--no-layers``),
``buildah push``, and write the dotenv file (IMAGE, IMAGE_REPOSITORY, IMAGE_TAG, and
IMAGE_DIGEST as the registry reports it) that later jobs read. ``plan()`` is pure: it decides
the commands; ``execute()`` runs them. ``--dry-run`` prints the plan and touches nothing.

Reproducible: the build's time is the commit's (``SOURCE_DATE_EPOCH``, else GitLab's
``CI_COMMIT_TIMESTAMP``, else HEAD's commit time from git), never the clock. It becomes buildah's
``--timestamp`` (every file's mtime, the image's and its history's dates) and the ``created``
label, so two builds of one commit give one digest. A base image from a registry must be pinned
by digest (a tag can be re-pointed); a local ``localhost/`` image (the tests') cannot be pulled.

Layers: ``--layers`` keeps every step as a cached image, so a code-only change rebuilds from the
app layer on where the storage outlives the build (a laptop, or ``--cache`` and a registry).
``--no-layers`` (the pipeline's) commits once per stage: on vfs, which copies the whole root
filesystem for every step, cached or not, that is faster than any cache (docs/benchmarks.md,
"Pipeline"); the image then has one layer above its base.
"""

import argparse
import contextlib
import datetime
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci import registry
from ci.aws import CACHE_REPOSITORY_SETTINGS, IMAGE_REPOSITORY_SETTINGS, use_gitlab_oidc
from ci.errors import CiError, UsageError
from ci.gitlab import GitLabContext
from ci.gitops.tags import TAG_PATTERN
from ci.registry import ImageRef, RegistryAuth

CACHE_SUFFIX = "-cache"

# Docker/OCI naming rules (distribution/reference); the tag grammar is ci.gitops.tags'.
NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
REGISTRY_RE = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?")
DIGEST_PINNED_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
BASE_ARG_RE = re.compile(r"^ARG BASE_IMAGE=(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class BuildInputs:
    """Everything a build needs, resolved from flags, their variables and GitLab's."""

    image: ImageRef
    region: str
    endpoint_url: str | None = None
    revision: str = ""
    source_url: str = ""
    created: str = ""
    timestamp: int = 0
    context: str = "."
    dockerfile: str = "Dockerfile"
    base_image: str | None = None
    cache: bool = False
    layers: bool = True  # --cache needs them
    volumes: tuple[str, ...] = ()
    dotenv: str = "build.env"
    insecure: bool = False
    storage_driver: str | None = None
    isolation: str | None = None


@dataclass(frozen=True)
class Command:
    """One program run; ``secret_stdin`` means the registry password is fed on stdin."""

    argv: tuple[str, ...]
    secret_stdin: bool = False

    def display(self) -> str:
        text = shlex.join(self.argv)
        return f"<registry password> | {text}" if self.secret_stdin else text


@dataclass(frozen=True)
class BuildPlan:
    image: ImageRef
    ecr_repositories: tuple[tuple[str, dict], ...]
    login: Command
    build: Command
    push: Command
    dotenv_path: str
    dotenv: str = field(repr=False)

    def describe(self, region: str) -> str:
        lines = []
        for name, settings in self.ecr_repositories:
            mutability = settings["imageTagMutability"]
            lines.append(
                f"ensure ECR repository {name} in {region} "
                f"(scanOnPush, {mutability}, AES256; an existing one is left alone)"
            )
        lines += [
            f"skip the build and push if {self.image.reference} is already in the registry",
            "ECR get-authorization-token, then: " + self.login.display(),
            self.build.display(),
            self.push.display(),
            f"write {self.dotenv_path}:",
            *(f"  {line}" for line in self.dotenv.splitlines()),
            "  IMAGE_DIGEST=<the digest the registry reports for the tag>",
        ]
        return "\n".join(lines)


def dotenv_text(image: ImageRef, digest: str | None = None) -> str:
    """The dotenv artifact later jobs read (deploy takes IMAGE_TAG and IMAGE_DIGEST)."""
    text = f"IMAGE={image.reference}\nIMAGE_REPOSITORY={image.repository}\nIMAGE_TAG={image.tag}\n"
    return text + (f"IMAGE_DIGEST={digest}\n" if digest else "")


def rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_commit_time(value: str) -> int:
    """Seconds since the epoch, from an integer or an ISO 8601 time with its offset."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    with contextlib.suppress(ValueError):
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            return int(moment.timestamp())
    raise UsageError(f"commit time {value!r} is not epoch seconds or ISO 8601 with an offset")


def git_commit_time(context: str) -> int | None:
    """HEAD's committer time in the build context's git checkout; None outside one."""
    argv = ["git", "-C", context, "log", "-1", "--format=%ct", "HEAD"]
    with contextlib.suppress(FileNotFoundError):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        output = result.stdout.strip()
        return int(output) if result.returncode == 0 and output.isdigit() else None
    return None


def source_date_epoch(value: str | None, context: str, git: Callable[[str], int | None]) -> int:
    """The build's time: the given commit time, else the checkout's; never the clock."""
    if value:
        return parse_commit_time(value)
    if (found := git(context)) is None:
        raise UsageError(f"commit time unknown: set SOURCE_DATE_EPOCH ({context} is not in git)")
    return found


def check_base_pinned(base: str | None, dockerfile: Path) -> str | None:
    """A registry base image must be pinned by digest (a tag can be re-pointed): an unpinned
    ``--base-image`` is refused; the Dockerfile's own default only warned about (the line to
    print), so the first build of a fresh copy still runs until ``make lock`` pins it."""
    if base is not None:
        if base.startswith("localhost/") or DIGEST_PINNED_RE.search(base):
            return None
        raise UsageError(
            f"base image {base} (--base-image) is not pinned by digest: give NAME@sha256:..."
        )
    text = dockerfile.read_text() if dockerfile.is_file() else ""
    found = BASE_ARG_RE.search(text)
    if not found or found[1].startswith("localhost/") or DIGEST_PINNED_RE.search(found[1]):
        return None
    return (
        f"warning: base image {found[1]} ({dockerfile}'s ARG) is not pinned by digest: run "
        "`python scripts/lock.py base` (make lock LOCK_ARGS=base)"
    )


def _image(args: argparse.Namespace, gitlab: GitLabContext) -> ImageRef:
    """REGISTRY/NAME:TAG from the flags, GitLab's variables as fallbacks; UsageError else."""
    registry_url = (args.registry or "").strip().rstrip("/")
    name = (args.name or gitlab.project_name or "").strip()
    tag = (args.tag or gitlab.commit_short_sha or "").strip()
    if not registry_url:
        raise UsageError("registry is not set (--registry or ECR_REPOSITORY_URL)")
    if "://" in registry_url or not REGISTRY_RE.fullmatch(registry_url):
        raise UsageError(f"registry {registry_url!r} is not HOST[:PORT][/PATH] (no scheme)")
    if not name:
        raise UsageError("image name is not set (--name, PROJECT_NAME or CI_PROJECT_NAME)")
    if not NAME_RE.fullmatch(name):
        raise UsageError(f"image name {name!r} is not a valid repository name (lowercase)")
    if not tag:
        raise UsageError("image tag is not set (--tag or CI_COMMIT_SHORT_SHA)")
    if not TAG_PATTERN.fullmatch(tag):
        raise UsageError(f"image tag {tag!r} is not a valid tag")
    return ImageRef(registry=registry_url, name=name, tag=tag)


def resolve_inputs(
    args: argparse.Namespace,
    gitlab: GitLabContext,
    environ: Mapping[str, str] | None = None,
    git: Callable[[str], int | None] | None = None,
) -> BuildInputs:
    """Validate the flags (with GitLab's variables as fallbacks); UsageError names what is wrong."""
    env = os.environ if environ is None else environ
    image = _image(args, gitlab)
    if not args.region:
        raise UsageError("AWS region is not set (--region or AWS_REGION)")
    context = Path(args.context)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    if not args.dry_run and not dockerfile.is_file():
        raise UsageError(f"Dockerfile not found: {dockerfile}")
    if warning := check_base_pinned(args.base_image or None, dockerfile):
        print(warning, file=sys.stderr)
    epoch = source_date_epoch(args.source_date_epoch, str(context), git or git_commit_time)
    volumes = args.build_volume or env.get("BUILD_VOLUMES", "").split()
    return BuildInputs(
        image=image,
        region=args.region,
        endpoint_url=args.endpoint_url or None,
        revision=args.revision or gitlab.commit_sha,
        source_url=args.source_url or gitlab.project_url,
        created=args.created or rfc3339(epoch),
        timestamp=epoch,
        context=str(context),
        dockerfile=str(dockerfile),
        base_image=args.base_image or None,
        cache=args.cache,
        layers=args.layers or args.cache,
        volumes=tuple(volumes),
        dotenv=args.dotenv,
        insecure=registry.insecure_from_env(env),
        storage_driver=env.get("STORAGE_DRIVER") or None,
        isolation=env.get("BUILDAH_ISOLATION") or None,
    )


def buildah(inputs: BuildInputs, *args: str) -> tuple[str, ...]:
    """buildah with the storage driver from $STORAGE_DRIVER (buildah 1.28 ignores the variable)."""
    driver = ("--storage-driver", inputs.storage_driver) if inputs.storage_driver else ()
    return ("buildah", *driver, *args)


def _bud_args(inputs: BuildInputs, tls: tuple[str, ...], cache_image: ImageRef) -> list[str]:
    """``buildah bud``'s arguments: layers, the commit's time, build args, volumes, the layer
    cache; ``tls`` for a plain-http registry (the base image or the cache pulled from it)."""
    image = inputs.image
    build = ["bud", *(["--layers"] if inputs.layers else []), "--timestamp", str(inputs.timestamp)]
    build += ["--file", inputs.dockerfile, "--tag", image.reference, *tls]
    if inputs.isolation:
        build += ["--isolation", inputs.isolation]
    build_args = {
        "VERSION": image.tag,
        "REVISION": inputs.revision,
        "SOURCE_URL": inputs.source_url,
        "CREATED": inputs.created,
    }
    if inputs.base_image:
        build_args["BASE_IMAGE"] = inputs.base_image
    for key, value in build_args.items():
        build += ["--build-arg", f"{key}={value}"]
    for volume in inputs.volumes:
        build += ["--volume", volume]
    if inputs.cache:
        build += ["--cache-from", cache_image.repository, "--cache-to", cache_image.repository]
    return [*build, inputs.context]


def plan(inputs: BuildInputs) -> BuildPlan:
    """The commands a build runs, decided from the inputs alone (no I/O)."""
    image = inputs.image
    tls = ("--tls-verify=false",) if inputs.insecure else ()
    cache_image = ImageRef(image.registry, image.name + CACHE_SUFFIX, image.tag)
    repositories: list[tuple[str, dict]] = [(image.path, IMAGE_REPOSITORY_SETTINGS)]
    if inputs.cache:
        repositories.append((cache_image.path, CACHE_REPOSITORY_SETTINGS))

    build = _bud_args(inputs, tls, cache_image)

    return BuildPlan(
        image=image,
        ecr_repositories=tuple(repositories),
        login=Command(
            buildah(inputs, "login", *tls, "--username", "AWS", "--password-stdin", image.host),
            secret_stdin=True,
        ),
        build=Command(buildah(inputs, *build)),
        push=Command(buildah(inputs, "push", *tls, image.reference, f"docker://{image.reference}")),
        dotenv_path=inputs.dotenv,
        dotenv=dotenv_text(image),
    )


# --- the edges: AWS, registry, processes, files -------------------------------------------------


def ensure_ecr_repository(client, name: str, settings: dict) -> bool:
    """Create the repository if missing; True when created. An existing one is not touched."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.describe_repositories(repositoryNames=[name])
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
            raise registry.aws_error(error, f"ECR describe-repositories {name} failed") from None
    except BotoCoreError as error:
        raise registry.aws_error(error, f"ECR describe-repositories {name} failed") from None
    try:
        client.create_repository(repositoryName=name, **settings)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "RepositoryAlreadyExistsException":
            return False  # created concurrently by another job
        raise registry.aws_error(error, f"ECR create-repository {name} failed") from None
    except BotoCoreError as error:
        raise registry.aws_error(error, f"ECR create-repository {name} failed") from None
    return True


def _run(command: Command, what: str, password: str | None = None, capture: bool = False) -> None:
    try:
        result = subprocess.run(
            command.argv,
            input=password if command.secret_stdin else None,
            text=True,
            capture_output=capture,
            check=False,
        )
    except FileNotFoundError:
        raise CiError(f"{command.argv[0]} not found: install buildah") from None
    if result.returncode != 0:
        detail = ""
        if capture:
            lines = (result.stderr or result.stdout or "").strip().splitlines()
            detail = f": {lines[-1].strip()}" if lines else ""
            if password:
                detail = detail.replace(password, "***")
        raise CiError(f"{what} failed (exit {result.returncode}){detail}")


def write_dotenv(path: str, text: str) -> None:
    Path(path).write_text(text)


def execute(inputs: BuildInputs, build_plan: BuildPlan, out=sys.stdout) -> int:
    image = build_plan.image
    use_gitlab_oidc()  # the job's OIDC token as AWS role credentials, when configured
    client = registry.ecr_client(inputs.region, inputs.endpoint_url)
    for name, settings in build_plan.ecr_repositories:
        created = ensure_ecr_repository(client, name, settings)
        state = "created" if created else "exists, left as it is"
        print(f"ECR repository {name}: {state}", file=out, flush=True)
    auth: RegistryAuth = registry.ecr_auth(inputs.region, inputs.endpoint_url)
    if registry.image_exists(image, auth, insecure=inputs.insecure):
        print(f"{image.reference} is already in the registry: build and push skipped", file=out)
    else:
        _run(build_plan.login, f"buildah login to {image.host}", auth.password, capture=True)
        print(f"logged in to {image.host} as {auth.username}", file=out, flush=True)
        _run(build_plan.build, "buildah bud")
        _run(build_plan.push, f"buildah push {image.reference}", capture=True)
        print(f"pushed {image.reference}", file=out)
    digest = registry.image_digest(image, auth, insecure=inputs.insecure)
    write_dotenv(build_plan.dotenv_path, dotenv_text(image, digest))
    pinned = f"@{digest}" if digest else " (the registry reported no digest)"
    print(f"wrote {build_plan.dotenv_path}: IMAGE={image.reference}{pinned}", file=out)
    return 0
