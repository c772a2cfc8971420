"""The promotion order, declared once in the repository (``gitops/promotion.yaml``).

    order: [dev, prod]

A tag may enter an environment only after it ran in the environment before it in ``order``
(``python -m ci check`` enforces this on merge requests). The first environment takes new builds;
environments not listed are not constrained.
"""

from dataclasses import dataclass

import yaml

from ci.errors import UsageError
from ci.gitops.tags import validate_env_name

PROMOTION_FILE = "gitops/promotion.yaml"
# A commit trailer that lets a merge request break the order, with a reason people can read.
OVERRIDE_TRAILER = "Promotion-Override"


@dataclass(frozen=True)
class PromotionOrder:
    order: tuple[str, ...] = ()

    def source_of(self, env: str) -> str | None:
        """The environment a tag must have run in before it reaches ``env`` (None: no rule)."""
        if env not in self.order:
            return None
        index = self.order.index(env)
        return self.order[index - 1] if index else None


def parse_order(text: str | None, name: str = PROMOTION_FILE) -> PromotionOrder:
    """The order in ``text`` (None or empty: no order). Bad files are UsageError (exit 2)."""
    if text is None or not text.strip():
        return PromotionOrder()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise UsageError(f"{name}: not valid YAML ({first})") from None
    if not isinstance(data, dict) or not isinstance(data.get("order"), list):
        raise UsageError(f"{name}: expected 'order:' with a list of environments")
    unknown = sorted(set(data) - {"order"})
    if unknown:
        raise UsageError(f"{name}: unknown key {unknown[0]!r} (only 'order')")
    order = []
    for env in data["order"]:
        if not isinstance(env, str):
            raise UsageError(f"{name}: environment names are strings, not {env!r}")
        try:
            validate_env_name(env)
        except UsageError as error:
            raise UsageError(f"{name}: {error}") from None
        if env in order:
            raise UsageError(f"{name}: {env} is listed twice")
        order.append(env)
    return PromotionOrder(tuple(order))
