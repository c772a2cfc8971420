"""Kubernetes CRD schemas for the tests: Argo CD's v3.5.1 CRDs (``crd_schemas``, skipped where no
copy is at hand), made strict as kubectl's field validation is (``strict``), and an object's
errors against them (``crd_errors``)."""

import copy
import functools
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# Argo CD's published CRDs, where a copy is at hand (outside the repository: a cross-check only).
SHARED_CRDS = REPO_ROOT.parent / "shared" / "schemas" / "argocd-v3.5.1"


@cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    if not SHARED_CRDS.is_dir():
        pytest.skip(f"no Argo CD CRDs at {SHARED_CRDS} (cross-check only)")
    return copy.deepcopy(_crd_schemas())


@functools.cache
def _crd_schemas() -> dict[str, dict[str, Any]]:
    """Parsed once per run (large files: libyaml's parser where PyYAML has it)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas = {}
    for path in SHARED_CRDS.glob("*.yaml"):
        crd = yaml.load(path.read_text(), Loader=loader)
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
        schemas[crd["spec"]["names"]["kind"]] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def strict(schema: Any) -> Any:
    """Unknown fields are errors (kubectl's strict field validation), except where the CRD keeps
    them (x-kubernetes-preserve-unknown-fields) or lists none (free-form objects)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def crd_errors(schemas: dict[str, dict[str, Any]], obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schemas[obj["kind"]])
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]
