"""One planner per action; ``plan`` checks the environment exists and asks its planner."""

from collections.abc import Callable

from ci.gitops.plans import deploy, hold, promote, rollback, unhold
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Plan, Request, State, require_env

Planner = Callable[[State, Request], Plan]

PLANNERS: dict[Action, Planner] = {
    Action.DEPLOY: deploy.plan,
    Action.PROMOTE: promote.plan,
    Action.ROLLBACK: rollback.plan,
    Action.HOLD: hold.plan,
    Action.UNHOLD: unhold.plan,
}


def plan(state: State, request: Request) -> Plan:
    require_env(request.env, state.environments)
    return PLANNERS[Action(request.action)](state, request)
