"""The Argo CD objects validate against Argo CD's own schemas.

The project's check uses the maintained npm package @kubernetes-models/argo-cd (pinned in
package.json, installed by `make tools`), which carries the schemas of Argo CD v3's API types. A
second check cross-validates against the v3.5.1 CRDs when a copy of them is at hand (skipped
otherwise: the project does not depend on that folder).
"""

import copy
from typing import Any

import pytest

from ci import chart
from tests.support.crds import crd_errors, crd_schemas
from tests.support.node_models import validate_with_models


def argocd_objects() -> list[dict[str, Any]]:
    """What `kubectl apply -f gitops/argocd/` creates, plus the Applications generated from it."""
    return [*chart.argocd_documents(), *(app.manifest for app in chart.applications())]


def npm_validate(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return validate_with_models(objects)


@pytest.mark.integration
def test_argocd_objects_validate_with_the_npm_schemas():
    objects = argocd_objects()
    assert {o["kind"] for o in objects} == {"AppProject", "ApplicationSet", "Application"}
    results = npm_validate(objects)
    assert [r for r in results if r["error"]] == []
    assert len(results) == len(objects)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "syncPolicy", "automated", "prune"), "yes", "prune must be boolean"),
        (
            ("spec", "source", "helm", "valueFiles"),
            "../values.dev.yaml",
            "valueFiles must be array",
        ),
        (("spec", "destination"), None, "must have required property destination"),
    ],
)
def test_npm_schemas_reject_a_broken_application(path, value, expected):
    application = copy.deepcopy(chart.applications()[0].manifest)
    target = application
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    (result,) = npm_validate([application])
    assert expected in (result["error"] or "")


# --- cross-check against the published v3.5.1 CRDs (only where a copy is at hand) -----------


def test_argocd_objects_validate_against_the_v3_5_crds():
    schemas = crd_schemas()
    for obj in argocd_objects():
        assert crd_errors(schemas, obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_crd_cross_check_rejects_an_unknown_field():
    schemas = crd_schemas()
    application = copy.deepcopy(chart.applications()[0].manifest)
    application["spec"]["source"]["helm"]["valuesFiles"] = ["typo"]
    assert any("valuesFiles" in e for e in crd_errors(schemas, application))
