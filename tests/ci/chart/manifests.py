"""Argo CD objects for the tests of ``ci.chart``: an Application, an ApplicationSet of the given
generators, and a repository holding them next to this project's chart."""

import shutil
from pathlib import Path

import yaml

from tests.chart.conftest import REPO_ROOT

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "svc-qa", "namespace": "argocd"},
    "spec": {
        "project": "p",
        "source": {
            "repoURL": "https://example.com/r.git",
            "path": "helm-chart",
            "helm": {
                "valueFiles": ["../gitops/qa/values.yaml"],
                "valuesObject": {"replicaCount": 4},
            },
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "qa-ns"},
    },
}


def repo_with(tmp_path: Path, *documents: dict) -> Path:
    shutil.copytree(REPO_ROOT / "helm-chart", tmp_path / "helm-chart")
    (tmp_path / "gitops" / "argocd").mkdir(parents=True)
    (tmp_path / "gitops" / "argocd" / "apps.yaml").write_text(yaml.safe_dump_all(documents))
    for env in ("qa", "dev", "skipped"):
        (tmp_path / "gitops" / env).mkdir()
        (tmp_path / "gitops" / env / "values.yaml").write_text(
            f"image:\n  repository: registry.example.com/svc\n  tag: {env}-1\n"
        )
    return tmp_path


def appset(generators: list, **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "set", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": generators,
            "template": {
                "metadata": {"name": "svc-{{ .path.basename }}"},
                "spec": {
                    "project": "p",
                    "source": {
                        "repoURL": "https://example.com/r.git",
                        "path": "helm-chart",
                        "helm": {"valueFiles": ["../{{ .path.path }}/{{ .path.filename }}"]},
                    },
                    "destination": {"namespace": "ns-{{ .path.basenameNormalized | upper }}"},
                },
            },
            **spec,
        },
    }
