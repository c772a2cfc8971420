"""The promotion policy, declared once in the repository (``gitops/promotion.yaml``)::

    order: [dev, prod]
    verify:
      dev: {window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}
    soak:
      dev: 30m
    freeze:
      - {environments: [prod], cron: "0 17 * * 5", duration: 63h, timezone: Europe/Berlin,
         reason: weekend}

``order``: a tag may enter an environment only after it ran in the one before it (the first takes
new builds; environments not listed are not constrained). ``verify``: how ``python -m ci verify``
judges a build from the service's own metrics, per environment (``traffic`` optionally drives
requests at ``paths`` while it watches, ``rate`` per second). ``soak``: how long a build must have
run verified in an environment before it is promoted out of it. ``freeze``: ``ci.gitops.freeze``.
Everything is validated on read: a bad file is a UsageError (exit 2) naming the key at fault.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

import yaml

from ci.errors import UsageError
from ci.gitops.freeze import FreezeWindow, parse_duration, parse_windows
from ci.gitops.tags import validate_env_name

PROMOTION_FILE = "gitops/promotion.yaml"
# A commit trailer that lets a merge request break the order, with a reason people can read.
OVERRIDE_TRAILER = "Promotion-Override"
KEYS = ("order", "verify", "soak", "freeze")
RULE_KEYS = ("window", "max_error_ratio", "max_latency_p95", "min_requests", "traffic")
TRAFFIC_KEYS = ("paths", "rate")
MAX_TRAFFIC_RATE = 20.0  # requests per second: synthetic traffic stays a probe, never a load test
SHORTEST = timedelta(seconds=1)


@dataclass(frozen=True)
class PromotionOrder:
    order: tuple[str, ...] = ()

    def source_of(self, env: str) -> str | None:
        """The environment a tag must have run in before it reaches ``env`` (None: no rule)."""
        if env not in self.order:
            return None
        index = self.order.index(env)
        return self.order[index - 1] if index else None


@dataclass(frozen=True)
class Traffic:
    """The requests ``verify`` sends while it watches: ``paths`` in turn, ``rate`` a second."""

    paths: tuple[str, ...]
    rate: float


@dataclass(frozen=True)
class VerifyRule:
    """A build passes when, over ``window``, at least ``min_requests`` were served, at most
    ``max_error_ratio`` of them answered 5xx and their p95 latency is at most
    ``max_latency_p95`` seconds."""

    window: timedelta
    max_error_ratio: float
    max_latency_p95: float
    min_requests: int
    traffic: Traffic | None = None


def _frozen_map() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class Policy:
    order: PromotionOrder = PromotionOrder()
    verify: Mapping[str, VerifyRule] = field(default_factory=_frozen_map)
    soak: Mapping[str, timedelta] = field(default_factory=_frozen_map)
    freeze: tuple[FreezeWindow, ...] = ()


def parse_policy(text: str | None, name: str = PROMOTION_FILE) -> Policy:
    """The policy in ``text`` (None or empty: no rules). Bad files are UsageError (exit 2)."""
    if text is None or not text.strip():
        return Policy()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise UsageError(f"{name}: not valid YAML ({first})") from None
    if data is None:  # comments only
        return Policy()
    if not isinstance(data, dict) or not isinstance(data.get("order"), list):
        raise UsageError(f"{name}: expected 'order:' with a list of environments")
    unknown = sorted(str(key) for key in data if key not in KEYS)
    if unknown:
        raise UsageError(f"{name}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    return Policy(
        order=PromotionOrder(_order(data["order"], name)),
        verify=_per_env(data.get("verify"), f"{name}: verify", _rule),
        soak=_per_env(data.get("soak"), f"{name}: soak", _duration),
        freeze=parse_windows(data.get("freeze"), name),
    )


def parse_order(text: str | None, name: str = PROMOTION_FILE) -> PromotionOrder:
    """The order of the policy in ``text`` (the whole file is validated)."""
    return parse_policy(text, name).order


def _order(items: list, name: str) -> tuple[str, ...]:
    order: list[str] = []
    for env in items:
        _env_name(env, f"{name}: order")
        if env in order:
            raise UsageError(f"{name}: {env} is listed twice")
        order.append(env)
    return tuple(order)


def _env_name(env: object, where: str) -> str:
    if not isinstance(env, str):
        raise UsageError(f"{where}: environment names are strings, not {env!r}")
    try:
        return validate_env_name(env)
    except UsageError as error:
        raise UsageError(f"{where}: {error}") from None


def _per_env(data: object, where: str, parse) -> Mapping:
    if data is None:
        return _frozen_map()
    if not isinstance(data, dict):
        raise UsageError(f"{where} must map environments to their settings")
    return MappingProxyType(
        {_env_name(env, where): parse(value, f"{where}.{env}") for env, value in data.items()}
    )


def _duration(value: object, where: str) -> timedelta:
    if not isinstance(value, str):
        raise UsageError(f"{where} must be a duration like 30m, not {value!r}")
    try:
        return parse_duration(value, SHORTEST)
    except ValueError as error:
        raise UsageError(f"{where}: {error}") from None


def _rule(value: object, where: str) -> VerifyRule:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping with {', '.join(RULE_KEYS[:4])}")
    _known(value, RULE_KEYS, where)
    missing = [key for key in RULE_KEYS[:4] if value.get(key) is None]
    if missing:
        raise UsageError(f"{where}.{missing[0]} is missing")
    return VerifyRule(
        window=_duration(value["window"], f"{where}.window"),
        max_error_ratio=_number(value["max_error_ratio"], f"{where}.max_error_ratio", 0, 1),
        max_latency_p95=_number(value["max_latency_p95"], f"{where}.max_latency_p95", 0, 3600),
        min_requests=int(_number(value["min_requests"], f"{where}.min_requests", 1, 10**9, True)),
        traffic=_traffic(value.get("traffic"), f"{where}.traffic"),
    )


def _traffic(value: object, where: str) -> Traffic | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping with paths and rate")
    _known(value, TRAFFIC_KEYS, where)
    paths = value.get("paths")
    if not isinstance(paths, list) or not paths:
        raise UsageError(f"{where}.paths must be a list of paths like /api/echo?text=verify")
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " \r\n"):
            raise UsageError(f"{where}.paths: {path!r} is not a path starting with /")
    rate = _number(value.get("rate", 1), f"{where}.rate", 0.1, MAX_TRAFFIC_RATE)
    return Traffic(tuple(paths), rate)


def _known(value: dict, keys: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(key) for key in value if key not in keys)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(keys)})")


def _number(value: object, where: str, low: float, high: float, whole: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole and not float(value).is_integer():
        ok = False
    if not ok or not low <= value <= high:  # type: ignore[operator]
        kind = "a whole number" if whole else "a number"
        raise UsageError(f"{where} must be {kind} from {low:g} to {high:g}, not {value!r}")
    return float(value)
