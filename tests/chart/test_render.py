"""Each environment rendered as Argo CD would: settings read from gitops/argocd/, nothing copied."""

import fnmatch
import ipaddress
import re
import shutil
from pathlib import Path

import pytest
import yaml

from app import SERVICE_NAME
from ci import chart
from ci.errors import CiError
from tests.chart.conftest import (
    ENVIRONMENTS,
    REPO_ROOT,
    gitops_values,
    kinds,
    only_deployment_container,
    render_with,
)

CHART_NAME = yaml.safe_load((REPO_ROOT / "helm-chart" / "Chart.yaml").read_text())["name"]


def argocd_objects(kind: str) -> list[dict]:
    return [doc for doc in chart.argocd_documents() if doc["kind"] == kind]


def test_every_environment_folder_gets_exactly_one_application():
    assert ENVIRONMENTS, "no gitops/<env>/values.yaml found"
    assert sorted(chart.environments()) == ENVIRONMENTS


def test_adding_a_folder_adds_an_environment(tmp_path: Path):
    """The ApplicationSet's generator finds environments by folder: a new one needs no edit."""
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    shutil.copy(REPO_ROOT / "values.dev.yaml", tmp_path / "values.staging.yaml")
    (tmp_path / "gitops" / "staging").mkdir()
    (tmp_path / "gitops" / "staging" / "values.yaml").write_text(
        f"image:\n  repository: registry.example.com/{SERVICE_NAME}\n  tag: abc12345\n"
    )
    app = chart.application_for("staging", tmp_path)
    assert (app.name, app.namespace) == (f"{CHART_NAME}-staging", f"{CHART_NAME}-staging")
    image = only_deployment_container(chart.render_env("staging", tmp_path))["image"]
    assert image == f"registry.example.com/{SERVICE_NAME}:abc12345"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployment_runs_exactly_the_gitops_image(env, rendered_envs):
    image = gitops_values(env)["image"]
    container = only_deployment_container(rendered_envs[env])
    assert container["image"] == f"{image['repository']}:{image['tag']}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_application_renders_the_chart_with_env_values_then_gitops_values(env):
    app = chart.application_for(env)
    assert app.chart_path == "helm-chart"
    assert app.value_files == (f"../values.{env}.yaml", f"../gitops/{env}/values.yaml")
    assert app.release_name == CHART_NAME
    assert app.name == f"{CHART_NAME}-{env}"
    assert app.namespace == f"{CHART_NAME}-{env}"
    for value_file in app.value_files:
        assert (REPO_ROOT / app.chart_path / value_file).resolve().is_file()


def test_gitops_file_wins_over_environment_file(tmp_path: Path):
    """valueFiles order: a tag in values.<env>.yaml cannot override the pipeline's."""
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    env = ENVIRONMENTS[0]
    people = yaml.safe_load((REPO_ROOT / f"values.{env}.yaml").read_text())
    people["image"] = {"tag": "from-people", "pullPolicy": "Always"}
    (tmp_path / f"values.{env}.yaml").write_text(yaml.safe_dump(people))
    container = only_deployment_container(chart.render_env(env, tmp_path))
    assert container["image"].endswith(":" + gitops_values(env)["image"]["tag"])
    assert container["imagePullPolicy"] == "Always"  # maps merge: people's other keys stay


def test_missing_value_file_is_a_one_line_error(tmp_path: Path):
    for name in ("helm-chart", "gitops"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    env = ENVIRONMENTS[0]
    with pytest.raises(CiError) as raised:
        chart.render_env(env, tmp_path)
    assert str(raised.value) == (
        f"Application {CHART_NAME}-{env}: value file values.{env}.yaml does not exist"
    )


def test_unknown_environment_is_a_usage_error():
    with pytest.raises(CiError) as raised:
        chart.application_for("nope")
    known = ", ".join(ENVIRONMENTS)
    assert str(raised.value) == f"unknown environment 'nope' (known: {known})"
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_objects_are_named_after_the_service_and_labelled(env, rendered_envs):
    for doc in rendered_envs[env]:
        meta = doc["metadata"]
        assert meta["name"] == CHART_NAME
        assert "namespace" not in meta  # Argo CD applies them to the destination namespace
        labels = meta["labels"]
        assert labels["app.kubernetes.io/name"] == CHART_NAME
        assert labels["app.kubernetes.io/instance"] == CHART_NAME
        assert labels["app.kubernetes.io/version"] == gitops_values(env)["image"]["tag"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_build_annotations_show_image_and_tag(env, rendered_envs):
    deployment = kinds(rendered_envs[env])["Deployment"]
    image = gitops_values(env)["image"]
    for annotations in (
        deployment["metadata"]["annotations"],
        deployment["spec"]["template"]["metadata"]["annotations"],
    ):
        assert annotations[f"{CHART_NAME}/image-tag"] == image["tag"]
        assert annotations[f"{CHART_NAME}/image"] == f"{image['repository']}:{image['tag']}"


def test_a_digest_pins_the_exact_build_and_the_tag_stays_for_people():
    digest = "sha256:" + "0f" * 32
    docs = render_with({"image": {"tag": "0123abcd", "digest": digest}})
    deployment = kinds(docs)["Deployment"]
    repository = chart.user_values(chart.application_for(ENVIRONMENTS[0]))
    reference = f"{repository['image']['repository']}:0123abcd@{digest}"
    assert only_deployment_container(docs)["image"] == reference
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations[f"{CHART_NAME}/image"] == reference
    assert annotations[f"{CHART_NAME}/image-tag"] == "0123abcd"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "0123abcd"
    # An empty digest (the chart's default) renders the plain repository:tag.
    plain = only_deployment_container(render_with({"image": {"tag": "0123abcd", "digest": ""}}))
    assert plain["image"] == f"{repository['image']['repository']}:0123abcd"


def test_commit_and_pipeline_links_for_argo_cd():
    """A short-SHA tag becomes a commit link; image.commit and image.pipelineUrl win when set."""
    sha = "0123abcd"
    docs = render_with({"image": {"tag": sha}, "gitlab": {"projectUrl": "https://gl.example/g/p/"}})
    annotations = kinds(docs)["Deployment"]["metadata"]["annotations"]
    assert annotations[f"{CHART_NAME}/source-commit"] == sha
    link = f"Source commit {sha}|https://gl.example/g/p/-/commit/{sha}"
    assert annotations["link.argocd.argoproj.io/source-commit"] == link
    assert "link.argocd.argoproj.io/pipeline" not in annotations

    full = "0123abcd" + "e" * 32
    docs = render_with(
        {
            "image": {"commit": full, "pipelineUrl": "https://gl.example/g/p/-/pipelines/7"},
            "gitlab": {"projectUrl": "https://gl.example/g/p"},
        }
    )
    annotations = kinds(docs)["Deployment"]["metadata"]["annotations"]
    assert annotations[f"{CHART_NAME}/source-commit"] == full
    assert annotations["link.argocd.argoproj.io/source-commit"].endswith(f"/-/commit/{full}")
    pipeline = "Build pipeline|https://gl.example/g/p/-/pipelines/7"
    assert annotations["link.argocd.argoproj.io/pipeline"] == pipeline


def test_no_commit_link_for_a_tag_that_is_not_a_commit(rendered_envs):
    docs = render_with({"image": {"tag": "release-1.2"}})
    annotations = kinds(docs)["Deployment"]["metadata"]["annotations"]
    assert not [key for key in annotations if "commit" in key]


def test_hpa_owns_replicas_because_the_chart_leaves_them_out(all_features):
    """Argo CD diffs and applies only what the manifest (or its last apply) holds, so the HPA's
    count stands without an ignoreDifferences rule; tests/chart/test_argocd_rollout.py checks no
    Application ignores a field its environment renders."""
    deployment = kinds(all_features)["Deployment"]
    assert "replicas" not in deployment["spec"]
    assert kinds(all_features)["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_replicas_set_only_without_hpa(env, rendered_envs):
    by_kind = kinds(rendered_envs[env])
    has_replicas = "replicas" in by_kind["Deployment"]["spec"]
    assert has_replicas != ("HorizontalPodAutoscaler" in by_kind)


def test_service_monitor_only_when_the_cluster_serves_it():
    assert "ServiceMonitor" not in kinds(render_with({"serviceMonitor": {"enabled": True}}))
    with_operator = render_with({}, api_versions=["monitoring.coreos.com/v1"])  # on by default
    monitor = kinds(with_operator)["ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/-/metrics")
    off = render_with(
        {"serviceMonitor": {"enabled": False}}, api_versions=["monitoring.coreos.com/v1"]
    )
    assert "ServiceMonitor" not in kinds(off)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_proxy_headers_are_trusted_only_from_the_configured_networks(env, rendered_envs):
    """FORWARDED_ALLOW_IPS (read by uvicorn) lists private networks uvicorn can parse: it quietly
    turns a malformed entry, such as one with host bits set, into a literal that never matches."""
    env_vars = {e["name"]: e["value"] for e in only_deployment_container(rendered_envs[env])["env"]}
    trusted = env_vars["FORWARDED_ALLOW_IPS"].split(",")
    assert "*" not in trusted
    for entry in trusted:
        assert ipaddress.ip_network(entry, strict=True).is_private  # no client on the internet


def test_forwarded_allow_ips_default_and_override():
    container = only_deployment_container(render_with({}))
    assert {"name": "FORWARDED_ALLOW_IPS", "value": "10.0.0.0/8"} in container["env"]
    custom = render_with({"forwardedAllowIps": ["192.168.0.0/16", "fd00::/8"]})
    env_vars = {e["name"]: e["value"] for e in only_deployment_container(custom)["env"]}
    assert env_vars["FORWARDED_ALLOW_IPS"] == "192.168.0.0/16,fd00::/8"


def allowed_namespaces(docs) -> list[str]:
    (rule,) = kinds(docs)["NetworkPolicy"]["spec"]["ingress"]
    (expression,) = rule["from"][1]["namespaceSelector"]["matchExpressions"]
    return expression["values"]


def test_network_policy_lets_prometheus_scrape_what_the_service_monitor_names():
    operator = {"api_versions": ["monitoring.coreos.com/v1"]}
    policy = {"networkPolicy": {"enabled": True, "allowFrom": ["team-a"]}}
    assert allowed_namespaces(render_with(policy, **operator)) == [
        "ingress-nginx",
        "team-a",
        "monitoring",
    ]
    assert allowed_namespaces(render_with(policy)) == ["ingress-nginx", "team-a"]  # no operator
    off = {**policy, "serviceMonitor": {"enabled": False}}
    assert allowed_namespaces(render_with(off, **operator)) == ["ingress-nginx", "team-a"]
    elsewhere = {
        "networkPolicy": {"enabled": True, "allowFrom": ["prometheus"]},
        "serviceMonitor": {"prometheusNamespace": "prometheus"},
    }
    assert allowed_namespaces(render_with(elsewhere, **operator)) == ["ingress-nginx", "prometheus"]
    none = {**policy, "serviceMonitor": {"prometheusNamespace": ""}}
    assert allowed_namespaces(render_with(none, **operator)) == ["ingress-nginx", "team-a"]


def test_rolling_update_never_drops_capacity(rendered_envs):
    for docs in rendered_envs.values():
        strategy = kinds(docs)["Deployment"]["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0
        assert strategy["rollingUpdate"]["maxSurge"] >= 1


def test_service_targets_the_named_container_port(rendered_envs):
    for docs in rendered_envs.values():
        container = only_deployment_container(docs)
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        (port,) = kinds(docs)["Service"]["spec"]["ports"]
        assert port["targetPort"] == "http"


def test_every_pod_has_a_pdb_and_spreads(rendered_envs):
    for docs in rendered_envs.values():
        by_kind = kinds(docs)
        selector = by_kind["Deployment"]["spec"]["selector"]["matchLabels"]
        assert by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
        spread = by_kind["Deployment"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }


def test_explicit_resources(rendered_envs):
    for docs in rendered_envs.values():
        resources = only_deployment_container(docs)["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert "memory" in resources["limits"]


def test_templates_use_no_lookup_or_random_values():
    """lookup and rand* make every Argo CD diff differ (and lookup sees nothing in Argo CD)."""
    forbidden = re.compile(
        r"\b(lookup|randAlphaNum|randAlpha|randNumeric|randAscii|randInt|uuidv4|now|genPrivateKey|genCA|genSelfSignedCert|genSignedCert)\b"
    )
    templates = sorted((REPO_ROOT / "helm-chart" / "templates").iterdir())
    assert templates
    for path in templates:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for action in re.findall(r"\{\{.*?\}\}", line):
                assert not forbidden.search(action), f"{path.name}:{number}: {action}"


def test_render_is_deterministic():
    env = ENVIRONMENTS[0]
    assert chart.to_yaml(chart.render_env(env)) == chart.to_yaml(chart.render_env(env))


# --- the Argo CD objects -----------------------------------------------------------------------


def test_one_repository_everywhere():
    (project,) = argocd_objects("AppProject")
    urls = set(project["spec"]["sourceRepos"])
    assert len(urls) == 1
    for appset in argocd_objects("ApplicationSet"):
        for generator in appset["spec"]["generators"]:
            assert generator["git"]["repoURL"] in urls
    for app in chart.applications():
        assert app.manifest["spec"]["source"]["repoURL"] in urls
        assert app.manifest["spec"]["project"] == project["metadata"]["name"] == CHART_NAME


def test_project_allows_exactly_what_the_applications_deploy(all_features, rendered_envs):
    (project,) = argocd_objects("AppProject")
    spec = project["spec"]
    allowed = {(item["group"], item["kind"]) for item in spec["namespaceResourceWhitelist"]}
    rendered = set()
    for docs in [all_features, *rendered_envs.values()]:
        for doc in docs:
            group = doc["apiVersion"].rpartition("/")[0]
            rendered.add((group, doc["kind"]))
    assert rendered == allowed
    assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    for app in chart.applications():
        destination = app.manifest["spec"]["destination"]
        assert any(
            d["server"] == destination["server"]
            and fnmatch.fnmatchcase(destination["namespace"], d["namespace"])
            for d in spec["destinations"]
        )


def test_manifest_generate_paths_cover_everything_the_render_reads():
    for app in chart.applications():
        annotation = app.manifest["metadata"]["annotations"]
        paths = annotation["argocd.argoproj.io/manifest-generate-paths"].split(";")
        base = REPO_ROOT / app.chart_path
        covered = [(base / p).resolve() for p in paths]
        for needed in [base, *(base / f for f in app.value_files)]:
            needed = needed.resolve()
            assert any(needed == c or c in needed.parents for c in covered), needed
        # and nothing the render does not read (a code-only commit must not refresh)
        assert not any(c in (REPO_ROOT / "app").resolve().parents for c in covered)
        assert REPO_ROOT.resolve() not in covered


def test_sync_policy_per_environment():
    for app in chart.applications():
        policy = app.manifest["spec"]["syncPolicy"]
        assert policy["automated"]["enabled"] is True
        assert policy["automated"]["selfHeal"] is True
        assert policy["automated"]["prune"] is (app.env != "prod")
        assert "CreateNamespace=true" in policy["syncOptions"]
        labels = policy["managedNamespaceMetadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_applications_link_to_gitlab():
    for app in chart.applications():
        meta = app.manifest["metadata"]
        links = [
            v for k, v in meta["annotations"].items() if k.startswith("link.argocd.argoproj.io/")
        ]
        assert links
        assert all(re.fullmatch(r"[^|]+\|https://\S+", link) for link in links)
        infos = app.manifest["spec"]["info"]
        assert any(info["value"].endswith(f"/gitops/{app.env}/values.yaml") for info in infos)


def test_no_field_renders_empty():
    """Argo CD fails on a missing template key (missingkey=error); here it would render empty."""

    def strings(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    for app in chart.applications():
        for text in strings(app.manifest):
            assert text.strip(), app.name
            assert "{{" not in text, text
            assert "<no value>" not in text, text
