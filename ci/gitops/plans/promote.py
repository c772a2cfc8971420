"""``promote``: copy the image (tag, pipeline link, digest) of ``--from`` into ``--env``,
refusing a rejected build (always), a held environment (unless forced), a freeze window and a
build without the evidence ``--from``'s policy asks for (unless overridden)."""

from ci.errors import UsageError
from ci.gitops.plans import guards
from ci.gitops.plans.image import Build, Extra, image_plan, read_values, settled
from ci.gitops.plans.model import Plan, Request, State, forced_hold, read_hold, require_env
from ci.gitops.tags import values_path
from ci.gitops.values import read_image


def plan(state: State, request: Request) -> Plan:
    hold = read_hold(state.repo, state.tip, request.env)
    require_env(request.source_env or "", state.environments, "--from")
    values = read_values(state, request.env)
    over_hold = forced_hold(request, hold)
    source_path = values_path(request.source_env or "")
    source = read_image(state.repo.read_file(state.tip, source_path) or "", source_path)
    if not source.tag:
        raise UsageError(f"{source_path} has no image.tag to promote")
    build = Build(source.tag, source.pipeline_url, source.digest)
    guards.refuse_rejected(state, build.tag, build.digest)
    done = settled(request, values, build)
    if done is not None:
        return done
    allowed = guards.freeze(state, request) + guards.evidence(
        state, request, build.tag, build.digest
    )
    extra = Extra(forced_hold=over_hold, allowed=allowed, rejectable=True)
    return image_plan(state, request, values, build, extra)
