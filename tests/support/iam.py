"""Reading IAM policy documents as AWS evaluates the parts this project uses.

``trust_allows`` evaluates a role trust policy's Allow statements for
``sts:AssumeRoleWithWebIdentity`` with the ``StringEquals`` and ``StringLike`` condition
operators (IAM: every key in a condition block must match, ``*`` and ``?`` are the wildcards
of ``StringLike``, matching is case-sensitive). Any other operator is refused, so a policy that
grows one gets a test that says so. ``granted`` lists the actions each resource gets.
"""

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AWS_DIR = ROOT / "aws"
OPERATORS = ("StringEquals", "StringLike")
POLICY_FILES = ("ci-role-trust-policy.json", "ci-role-policy.json")


def load(name: str) -> dict[str, Any]:
    return json.loads((AWS_DIR / name).read_text())


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _condition_holds(condition: dict[str, dict], claims: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here")
        for key, expected in keys.items():
            value = claims.get(key)
            if value is None:
                return False
            match = _like if operator == "StringLike" else str.__eq__
            if not any(match(pattern, value) for pattern in _as_list(expected)):
                return False
    return True


def trust_allows(policy: dict[str, Any], provider_arn: str, claims: dict[str, str]) -> bool:
    """Whether a web identity token with ``claims`` (keyed ``HOST:claim``) may assume the role."""
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow":
            raise ValueError("Deny statements are not evaluated here")
        if "sts:AssumeRoleWithWebIdentity" not in _as_list(statement["Action"]):
            continue
        if provider_arn not in _as_list(statement["Principal"].get("Federated", [])):
            continue
        if _condition_holds(statement.get("Condition", {}), claims):
            return True
    return False


def granted(policy: dict[str, Any]) -> dict[str, set[str]]:
    """Resource -> the actions Allow statements grant on it."""
    result: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow", statement
        for resource in _as_list(statement["Resource"]):
            result.setdefault(resource, set()).update(_as_list(statement["Action"]))
    return result
