"""``python -m ci check`` on real git repositories shaped like this project (its own chart, Argo CD
manifests and promotion order), run as the gitops-check job runs it."""

import hashlib
import json

import pytest

from app import SERVICE_NAME
from ci.gitops.check import affected
from ci.gitops.check_command import verify_reference
from ci.gitops.promotion import PROMOTION_FILE, parse_order
from ci.gitops.values import set_image
from ci.registry import ImageRef, RegistryAuth, manifest
from tests.ci.gitops.test_verify_image import PASSWORD, USER, _request, push_image
from tests.support.cli import run_ci
from tests.support.git_remotes import git
from tests.support.gitops_project import ROOT, Project, make_project
from tests.support.registry import running_registry

PROD = "gitops/prod/values.yaml"
BUILDS = ("1111aaaa", "2222bbbb", "3333cccc")
# The config blob push_image uploads (the same for every image it pushes).
_CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
).encode()
CONFIG_DESCRIPTOR = {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:" + hashlib.sha256(_CONFIG).hexdigest(),
    "size": len(_CONFIG),
}


@pytest.fixture
def project(tmp_path) -> Project:
    """main: dev ran three builds (the last is live), prod runs the first; then a branch ``mr``."""
    project = make_project(tmp_path / "project")
    project.set_tag("dev", BUILDS[0])
    project.set_tag("prod", BUILDS[0], f"promote(prod): {SERVICE_NAME} {BUILDS[0]}")
    project.set_tag("dev", BUILDS[1])
    project.set_tag("dev", BUILDS[2])
    project.branch("mr")
    return project


def check(ci, project: Project, *args: str, env: dict[str, str] | None = None):
    """``python -m ci check`` in the project, in this process (``ci``)."""
    return ci("check", *args, cwd=project.path, env=env)


def test_promoting_a_tag_dev_ran_passes(project, ci):
    project.set_tag("prod", BUILDS[1], "Promote 2222bbbb to prod")
    result = check(ci, project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(" ok\n")


def test_promoting_a_tag_dev_never_ran_fails_with_one_line(project, ci):
    project.set_tag("prod", "9999ffff", "Promote a build nobody tested")
    result = check(ci, project)
    assert result.returncode == 1
    base = git("merge-base", "main", "HEAD", cwd=project.path).strip()
    assert result.stdout == (
        f"prod: image 9999ffff never ran in dev (history of gitops/dev/values.yaml up to "
        f"{base[:12]}); promote what dev ran, or add a 'Promotion-Override: <reason>' commit "
        "trailer\n"
    )
    assert result.stderr.startswith("check: 1 problem in ")


def test_the_same_change_in_dev_does_not_count_as_having_run(project, ci):
    """Setting dev and prod in one merge request: dev has not run it yet."""
    project.set_tag("dev", "9999ffff", "dev")
    project.set_tag("prod", "9999ffff", "prod")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith("prod: image 9999ffff never ran in dev")


def test_an_override_trailer_lets_it_through_and_says_so(project, ci):
    project.set_tag(
        "prod",
        "9999ffff",
        "Hotfix straight to prod\n\nPromotion-Override: INC-42, dev is down, verified on staging",
    )
    result = check(ci, project)
    assert result.returncode == 0, result.stdout
    assert "check: prod: Promotion-Override (" in result.stderr
    assert "9999ffff never ran in dev; allowed: INC-42, dev is down" in result.stderr


def test_rolling_back_prod_to_a_build_it_ran_before_passes(project, ci):
    project.set_tag("prod", BUILDS[2], "p2")
    git("checkout", "--quiet", "main", cwd=project.path)
    git("merge", "--quiet", "--ff-only", "mr", cwd=project.path)
    project.branch("rollback")
    # dev's history is rewritten away from the first build? No: a rollback target prod ran.
    project.set_tag("prod", BUILDS[0], "rollback(prod)")
    assert check(ci, project).returncode == 0


def pin(project: Project, env: str, tag: str, digest: str) -> None:
    rel = f"gitops/{env}/values.yaml"
    project.write(rel, set_image(project.read(rel), tag, digest=digest, name=rel))
    project.commit(f"{env}: {tag}@{digest}")


def test_a_pinned_digest_must_be_the_build_that_ran(project, ci):
    ran, other = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    git("checkout", "--quiet", "main", cwd=project.path)
    pin(project, "dev", BUILDS[2], ran)
    project.branch("pinned")
    pin(project, "prod", BUILDS[2], other)
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith(f"prod: image {BUILDS[2]}@{other} never ran in dev ")
    pin(project, "prod", BUILDS[2], ran)
    assert check(ci, project).returncode == 0
    # A build dev ran before digests were recorded: the tag is all the history knows.
    pin(project, "prod", BUILDS[1], other)
    assert check(ci, project).returncode == 0


def test_the_order_in_force_is_the_base_one(project, ci):
    """A merge request cannot loosen the order and use the looser order at once."""
    project.write("gitops/promotion.yaml", "order: [dev]\n")
    project.set_tag("prod", "9999ffff", "no more order")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith("prod: image 9999ffff never ran in dev")


def test_a_pipeline_owned_file_may_change_only_the_image_keys(project, ci):
    text = project.read(PROD).replace("image:\n", "replicaCount: 5\nimage:\n  pullPolicy: Always\n")
    project.write(PROD, text)
    project.commit("scale prod")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == (
        "gitops/prod/values.yaml: changes image.pullPolicy, replicaCount, which the pipeline does "
        "not own (it owns image.digest, image.pipelineUrl, image.repository, image.tag); put "
        "people's settings in values.prod.yaml\n"
    )


def test_comments_and_quoting_of_a_pipeline_file_may_change(project, ci):
    text = project.read(PROD).replace(f'"{BUILDS[0]}"', f"'{BUILDS[0]}'  # pinned")
    project.write(PROD, "# reviewed\n" + text)
    project.commit("comment")
    assert check(ci, project).returncode == 0


def test_a_people_values_change_that_breaks_the_render_fails(project, ci):
    project.write("values.prod.yaml", project.read("values.prod.yaml") + "replicaCount: many\n")
    project.commit("prod: more replicas")
    result = check(ci, project)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("prod: does not render as Argo CD renders it: ")
    assert "replicaCount" in line


def test_a_values_file_for_no_environment_is_reported(project, ci):
    project.write("values.prd.yaml", "replicaCount: 2\n")
    project.commit("typo")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == (
        "prd: no Argo CD Application deploys this environment (known: dev, prod)\n"
    )


def test_every_problem_is_one_line(project, ci):
    project.write(PROD, project.read(PROD) + "replicaCount: 5\n")
    project.write("values.dev.yaml", "replicaCount: -3\n")
    project.commit("two problems")
    result = check(ci, project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("gitops/prod/values.yaml: changes replicaCount, which the pipeline")
    assert lines[1].startswith("dev: does not render as Argo CD renders it: ")
    assert result.stderr.startswith("check: 2 problems in ")


def test_a_pipeline_file_that_is_not_utf8_is_named(project, ci):
    project.write(PROD, b"image:\n  tag: \xff\xfe\n")
    project.commit("binary")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == "gitops/prod/values.yaml: not UTF-8\n"
    assert "Traceback" not in result.stderr


def test_an_argocd_manifest_change_renders_every_environment(project, ci):
    appset = "gitops/argocd/applicationset.yaml"
    project.write(appset, project.read(appset).replace(f"releaseName: {SERVICE_NAME}", "x: y"))
    project.write("values.prod.yaml", project.read("values.prod.yaml"))
    project.commit("argocd change")
    assert check(ci, project).returncode == 0
    project.write(appset, project.read(appset).replace("path: helm-chart", "path: no-chart"))
    project.commit("argocd breaks")
    result = check(ci, project)
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["dev", "prod"]


def test_no_gitops_change_is_a_pass(project, ci):
    project.write("README.md", "docs\n")
    project.commit("docs")
    result = check(ci, project)
    assert result.returncode == 0
    assert "no change under gitops/" in result.stderr


def test_base_comes_from_the_merge_request_variable(project, ci):
    good = project.set_tag("prod", BUILDS[1], "good")
    project.set_tag("prod", "9999ffff", "bad")
    assert check(ci, project, env={"CI_MERGE_REQUEST_DIFF_BASE_SHA": good}).returncode == 1
    assert check(ci, project, "--base", "HEAD~1").returncode == 1
    assert check(ci, project, "--base", "HEAD").returncode == 0


@pytest.mark.parametrize("base", ["no-such-ref", "-x", "0" * 40])
def test_a_bad_base_is_exit_2_with_one_line(project, base, ci):
    result = check(ci, project, f"--base={base}")
    assert result.returncode == 2
    assert result.stderr == f"error: --base {base!r} is not a commit of this checkout\n"


def test_a_malformed_promotion_order_is_exit_2(project, ci):
    git("checkout", "--quiet", "main", cwd=project.path)
    project.write("gitops/promotion.yaml", "order: [dev, dev]\n")
    project.commit("bad order")
    project.branch("mr2")
    project.set_tag("prod", BUILDS[1])
    result = check(ci, project)
    assert result.returncode == 2
    assert result.stderr == "error: gitops/promotion.yaml: dev is listed twice\n"


@pytest.mark.integration
def test_outside_a_repository_is_exit_2(tmp_path):
    result = run_ci("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "not inside a git working tree" in result.stderr


def test_affected_environments_by_path():
    found = affected(
        ["gitops/prod/values.yaml", "values.dev.yaml", "gitops/promotion.yaml", "app/main.py"]
    )
    assert found.envs == {"dev", "prod"}
    assert found.pipeline_files == {"gitops/prod/values.yaml"}
    assert not found.argocd
    assert affected(["gitops/argocd/project.yaml"]).argocd
    assert affected(["helm-chart/values.yaml", "sub/values.dev.yaml"]).envs == set()


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry", USER, PASSWORD) as running:
        yield running


def registry_env(registry) -> dict[str, str]:
    return {"REGISTRY_INSECURE": "true", "REGISTRY_USER": USER, "REGISTRY_PASSWORD": PASSWORD}


def use_registry(project: Project, host: str) -> None:
    """Point both environments at ``host`` on main (dev ran BUILDS[1] from it), branch ``mr2``."""
    git("checkout", "--quiet", "main", cwd=project.path)
    for env in ("dev", "prod"):
        rel = f"gitops/{env}/values.yaml"
        tag = BUILDS[1] if env == "dev" else BUILDS[0]
        repository = f"{host}/{SERVICE_NAME}"
        project.write(rel, set_image(project.read(rel), tag, repository, name=rel))
    project.commit("registry moved")
    project.branch("mr2")


@pytest.mark.integration
def test_verify_image_checks_each_new_reference_in_the_registry(project, registry, ci):
    use_registry(project, registry.host)
    project.set_tag("prod", BUILDS[1], "promote")
    reference = f"{registry.host}/{SERVICE_NAME}:{BUILDS[1]}"
    absent = check(ci, project, "--verify-image", env=registry_env(registry))
    assert absent.returncode == 1
    assert absent.stdout == f"prod: image {reference} not found in the registry\n"
    assert check(ci, project, env=registry_env(registry)).returncode == 0  # not asked to verify

    push_image(registry.host, SERVICE_NAME, BUILDS[1])
    present = check(ci, project, "--verify-image", env=registry_env(registry))
    assert present.returncode == 0, present.stdout + present.stderr
    assert f"check: prod: image {reference} is in the registry" in present.stderr
    assert PASSWORD not in present.stdout + present.stderr


@pytest.mark.integration
def test_verify_image_with_refused_credentials_is_one_line(project, registry, ci):
    use_registry(project, registry.host)
    project.set_tag("prod", BUILDS[1], "promote")
    env = {**registry_env(registry), "REGISTRY_PASSWORD": "wrong-Password-1"}
    result = check(ci, project, "--verify-image", env=env)
    assert result.returncode == 1
    assert result.stderr == f"error: registry {registry.host} rejected the credentials\n"


def push_variant(host: str, tag: str, note: str) -> str:
    """Tag ``tag`` as an image whose manifest differs by an annotation; return its digest."""
    push_image(host, SERVICE_NAME, "base")
    url = f"http://{host}/v2/{SERVICE_NAME}/manifests/"
    auth = RegistryAuth(USER, PASSWORD)
    base = manifest(ImageRef(host, SERVICE_NAME, "base"), "base", auth, insecure=True)
    assert base.found
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": CONFIG_DESCRIPTOR,
            "layers": [],
            "annotations": {"note": note},
        }
    ).encode()
    headers = _request("PUT", url + tag, body, "application/vnd.oci.image.manifest.v1+json")
    return headers["Docker-Content-Digest"]


@pytest.mark.integration
def test_a_reference_with_a_digest_is_checked_by_tag_and_digest(registry, monkeypatch):
    for name, value in registry_env(registry).items():
        monkeypatch.setenv(name, value)
    repository = f"{registry.host}/{SERVICE_NAME}"
    one = push_variant(registry.host, "one", "first")
    two = push_variant(registry.host, "two", "second")
    absent = "sha256:" + "0" * 64
    assert verify_reference(f"{repository}:one@{one}") is None
    assert verify_reference(f"{repository}@{two}") is None
    assert verify_reference(f"{repository}:one@{two}") == (
        f"image {repository}:one is {one} in the registry, not {two}"
    )
    assert verify_reference(f"{repository}@{absent}") == (
        f"image {repository}@{absent} not found in the registry"
    )
    assert verify_reference(f"{repository}:three@{one}") == (
        f"image {repository}:three not found in the registry"
    )


def test_promotion_file_is_what_the_repository_declares():
    assert parse_order((ROOT / PROMOTION_FILE).read_text()).order == ("dev", "prod")


HOLD = 'by: "alice <alice@example.com>"\nsince: "2026-11-26T10:00:00Z"\nreason: "bad build"\n'


def hold_prod_on_main(project: Project) -> None:
    git("checkout", "--quiet", "main", cwd=project.path)
    project.write("gitops/prod/hold.yaml", HOLD)
    project.commit("hold(prod): bad build [skip ci]")
    project.branch("held")


def test_a_held_environment_refuses_a_new_image(project, ci):
    hold_prod_on_main(project)
    project.set_tag("prod", BUILDS[1], "promote into a held prod")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == (
        "prod: prod is held by alice <alice@example.com> since 2026-11-26T10:00:00Z: bad build; "
        "release it with `python -m ci unhold --env prod` (pipeline job unhold-prod), or delete "
        "gitops/prod/hold.yaml in this merge request\n"
    )


def test_releasing_the_hold_in_the_same_merge_request_passes(project, ci):
    hold_prod_on_main(project)
    (project.path / "gitops" / "prod" / "hold.yaml").unlink()
    project.set_tag("prod", BUILDS[1], "unhold and promote")
    assert check(ci, project).returncode == 0


def test_a_rollback_that_sets_its_hold_passes_and_a_bad_hold_file_is_named(project, ci):
    project.set_tag("prod", BUILDS[2], "prod ran 3")
    git("checkout", "--quiet", "main", cwd=project.path)
    git("merge", "--quiet", "--ff-only", "mr", cwd=project.path)
    project.branch("rollback")
    project.write("gitops/prod/hold.yaml", HOLD.replace("bad build", "rollback from 3333cccc"))
    project.set_tag("prod", BUILDS[0], "rollback(prod)")
    assert check(ci, project).returncode == 0
    project.write("gitops/prod/hold.yaml", "by: [1]\n")
    project.commit("break the hold")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == "gitops/prod/hold.yaml: 'by' must be a non-empty string\n"
