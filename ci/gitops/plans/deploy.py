"""``deploy``: set an image tag, refusing a rejected build (always), a held environment and a
build older than the live one (unless forced) and a freeze window (unless overridden); the
commit names the source commit and credits its pipeline."""

from ci.gitops.plans import guards
from ci.gitops.plans.action import Status
from ci.gitops.plans.image import Build, Extra, image_plan, read_values, settled
from ci.gitops.plans.model import Plan, Request, State, forced_hold, own_build, read_hold
from ci.gitops.tags import looks_like_commit


def plan(state: State, request: Request) -> Plan:
    hold = read_hold(state.repo, state.tip, request.env)
    values = read_values(state, request.env)
    over_hold = forced_hold(request, hold)
    build = _build(state, request)
    guards.refuse_rejected(state, build.tag, build.digest)
    done = settled(request, values, build)
    if done is not None:
        return done
    live = values.current.tag
    relation = state.repo.relation(build.tag, live)
    forced_over = None
    if relation.kind == "older":
        if not request.force:
            return Plan(
                Status.STALE,
                f"{request.env} already runs {live}, a newer build than {build.tag}:"
                " nothing to do (--force deploys it anyway)",
            )
        forced_over = live
    own = build.own or own_build(state.context, build.tag)
    source = (state.context.commit_sha if own else None) or relation.candidate
    if not source and looks_like_commit(build.tag):
        source = build.tag
    allowed = guards.freeze(state, request)
    extra = Extra(
        forced_hold=over_hold,
        forced_over=forced_over,
        source_commit=source or None,
        allowed=allowed,
        rejectable=True,
    )
    return image_plan(state, request, values, build, extra)


def _build(state: State, request: Request) -> Build:
    target = request.tag or ""
    own = request.built_here or own_build(state.context, target)
    # Another pipeline's build (or a laptop deploy): no link rather than a false one.
    url = (state.context.pipeline_url or None) if own else None
    return Build(target, url, request.digest, own)
