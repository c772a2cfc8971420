"""What deploy, promote and rollback share: the image they write into ``values.yaml``, checked
against the registry when asked, described in the commit message."""

import re
from dataclasses import dataclass, field

from ci.errors import CiError, UsageError
from ci.gitops.message import Change, commit_message
from ci.gitops.plans.action import Status
from ci.gitops.plans.guards import Allowed, refuse_rejected
from ci.gitops.plans.model import Plan, Request, State, Verifier, own_build
from ci.gitops.tags import DIGEST_PATTERN, values_path
from ci.gitops.values import Image, read_image, set_image
from ci.project import service_name
from ci.provenance import PUBLIC_KEY_PATH

# What helm-chart/values.schema.json accepts for image.pipelineUrl (an Argo CD link URL); any
# other value is treated as unknown, so a write-back never makes the chart fail to render.
PIPELINE_URL = re.compile(r"https?://[^\s|]+")


@dataclass(frozen=True)
class Build:
    """The build a write-back names, with the pipeline link and digest written with its tag."""

    tag: str
    pipeline_url: str | None = None
    digest: str | None = None
    own: bool = False


@dataclass(frozen=True)
class Values:
    """An environment's values file at the tip and the image it sets."""

    path: str
    text: str
    current: Image


@dataclass(frozen=True)
class Extra:
    """What one action adds to the image change (its trailers, notes and other files)."""

    forced_hold: str | None = None
    forced_over: str | None = None  # the newer build a --force deploy replaces
    source_commit: str | None = None
    hold_note: str | None = None
    files: tuple[tuple[str, str | None, str | None], ...] = ()  # (path, before, after)
    # What overrides let through (notes, trailers).
    allowed: Allowed = field(default_factory=Allowed)
    rejectable: bool = False  # deploy, promote: refuse a rejected build (by the digest written)


def read_values(state: State, env: str) -> Values:
    path = values_path(env)
    text = state.repo.read_file(state.tip, path)
    if text is None:
        raise UsageError(f"{path} is missing on the branch")
    return Values(path, text, read_image(text, path))


def service(request: Request, values: Values) -> str:
    repository = request.repository or values.current.repository
    if repository:
        return repository.rstrip("/").rsplit("/", 1)[-1] or service_name()
    return service_name()


def _repository_changes(request: Request, values: Values) -> bool:
    return request.repository is not None and request.repository != values.current.repository


def settled(request: Request, values: Values, build: Build) -> Plan | None:
    """The "already runs" plan when the environment has this build, repository and digest."""
    digest_changes = build.digest is not None and build.digest != values.current.digest
    if build.tag != values.current.tag or _repository_changes(request, values) or digest_changes:
        return None
    line = f"{request.env} already runs {service(request, values)} {build.tag}: nothing to do"
    return Plan(Status.UNCHANGED, line)


def image_plan(
    state: State, request: Request, values: Values, build: Build, extra: Extra = Extra()
) -> Plan:
    """The commit that sets ``build`` (with ``extra``) in the environment's values file."""
    repository = request.repository or values.current.repository
    key = state.repo.read_file(state.tip, PUBLIC_KEY_PATH) if state.verify else None
    verified = verified_digest(state.verify, repository, build.tag, build.digest, values.path, key)
    digest = _matching(verified, DIGEST_PATTERN)
    if extra.rejectable and digest != build.digest:  # the registry named the digest
        refuse_rejected(state, build.tag, digest)
    url = _matching(build.pipeline_url, PIPELINE_URL)
    new_text = set_image(
        values.text,
        build.tag,
        request.repository,
        pipeline_url=url,
        digest=digest,
        name=values.path,
    )
    files: dict[str, str | None] = {values.path: new_text}
    before: dict[str, str | None] = {values.path: values.text}
    for path, old, new in extra.files:
        files[path], before[path] = new, old
    change = _change(state, request, values, build, extra, digest)
    message = commit_message(change, state.context)
    return Plan(None, "", files, before, message, change, render=(request.env,))


def _change(
    state: State, request: Request, values: Values, build: Build, extra: Extra, digest: str | None
) -> Change:
    return Change(
        action=request.action,
        env=request.env,
        service=service(request, values),
        tag=build.tag,
        previous=values.current.tag,
        path=values.path,
        source_env=request.source_env,
        forced_over=extra.forced_over,
        repository=request.repository if _repository_changes(request, values) else None,
        source_commit=extra.source_commit,
        own_build=build.own or own_build(state.context, build.tag),
        forced_hold=extra.forced_hold,
        reason=request.reason,
        hold_note=extra.hold_note,
        digest=digest,
        notes=extra.allowed.notes,
        extra_trailers=extra.allowed.trailers,
    )


def _matching(value: str | None, pattern: re.Pattern[str]) -> str | None:
    """`value` when it is well formed, else None (nothing malformed is written)."""
    return value if value and pattern.fullmatch(value) else None


def verified_digest(
    verify: Verifier | None,
    repository: str | None,
    tag: str,
    digest: str | None,
    path: str,
    public_key: str | None = None,
) -> str | None:
    """With --verify-image: the registry must have the image, and the digest given must be its.
    With the branch's ``gitops/cosign.pub`` (``public_key``), the verifier also checks the
    digest's signature and provenance with that key (``ci.trust``)."""
    if verify is None:
        return digest
    if not repository:
        raise UsageError(f"--verify-image needs --repository or image.repository in {path}")
    if public_key is None:
        registry_digest = verify(repository, tag)
    else:  # a Verifier that checks signatures takes the key and the digest to check
        registry_digest = verify(repository, tag, public_key=public_key, digest=digest)  # type: ignore[call-arg]
    if digest and registry_digest and digest != registry_digest:
        raise CiError(
            f"the registry has {registry_digest} for {repository}:{tag}, not the digest"
            f" given ({digest}): nothing committed"
        )
    return digest or registry_digest
