"""The file-level rules of ``python -m ci check`` (``ci.gitops.check``), over file contents."""

from ci.gitops.check import affected, owned_keys_violation, read_values, unknown_env_violation


def test_affected_environments_by_path():
    found = affected(
        ["gitops/prod/values.yaml", "values.dev.yaml", "gitops/promotion.yaml", "app/main.py"]
    )
    assert found.envs == {"dev", "prod"}
    assert found.pipeline_files == {"gitops/prod/values.yaml"}
    assert not found.argocd
    assert affected(["gitops/argocd/project.yaml"]).argocd
    assert affected(["helm-chart/values.yaml", "sub/values.dev.yaml"]).envs == set()


def test_read_values_names_what_is_wrong():
    assert read_values(None, "f") == (None, None)
    assert read_values(b"\xff", "f")[1].line() == "f: not UTF-8"
    assert read_values(b"[1]", "f")[1].line().startswith("f: not valid YAML (")
    assert read_values(b"image: 3", "f")[1].line() == "f: 'image' must be a mapping"
    assert read_values(b"a: [", "f")[1].line().startswith("f: not valid YAML (")
    assert read_values(b"", "f") == ({}, None)


def test_the_pipeline_may_change_only_its_keys():
    before = {"image": {"repository": "r", "tag": "1"}}
    assert owned_keys_violation("p", "prod", before, {"image": {"tag": "2", "digest": "d"}}) is None
    found = owned_keys_violation("p", "prod", before, {"image": {"tag": "2"}, "x": {"y": 1}})
    assert found.line().startswith("p: changes x.y, which the pipeline does not own")
    assert found.line().endswith("put people's settings in values.prod.yaml")
    assert owned_keys_violation("p", "prod", None, {"image": {"pullPolicy": "Always"}})


def test_an_unknown_environment_lists_the_known_ones():
    assert unknown_env_violation("prd", ["prod", "dev"]).line() == (
        "prd: no Argo CD Application deploys this environment (known: dev, prod)"
    )
    assert unknown_env_violation("x", []).line().endswith("(known: none)")
