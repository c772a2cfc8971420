"""One planner per action; ``plan`` checks the environment exists (an action about a build in
every environment names none) and asks its planner."""

from collections.abc import Callable

from ci.gitops.plans import deploy, hold, promote, record, reject, rollback, unhold, unreject
from ci.gitops.plans.action import Action
from ci.gitops.plans.model import Plan, Request, State, require_env

Planner = Callable[[State, Request], Plan]

PLANNERS: dict[Action, Planner] = {
    Action.DEPLOY: deploy.plan,
    Action.PROMOTE: promote.plan,
    Action.ROLLBACK: rollback.plan,
    Action.HOLD: hold.plan,
    Action.UNHOLD: unhold.plan,
    Action.RECORD: record.plan,
    Action.REJECT: reject.plan,
    Action.UNREJECT: unreject.plan,
}
# Actions about a build in every environment, not one environment.
BUILD_ACTIONS = (Action.REJECT, Action.UNREJECT)


def plan(state: State, request: Request) -> Plan:
    if request.action not in BUILD_ACTIONS:
        require_env(request.env, state.environments)
    return PLANNERS[Action(request.action)](state, request)
