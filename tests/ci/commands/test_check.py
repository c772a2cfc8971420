"""``python -m ci check`` on real git repositories shaped like this project (its own chart, Argo CD
manifests and promotion order), run as the gitops-check job runs it: the merge request's HEAD
judged against its target branch's tip, from what Argo CD renders.

Each hostile merge request of issue 18 ("what was found") is one test here; each passed the gate
before it decided from the renders.

Rejected builds and promotion evidence: ``TestRejectedBuildsAndEvidence``, on a project of its
own."""

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from app import SERVICE_NAME
from ci.gitops.promotion import PROMOTION_FILE, parse_order
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections
from ci.gitops.values import set_image
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts, verdicts_path
from ci.registry import ImageRef, RegistryAuth, manifest, verify_reference
from tests.ci.gitops.test_verify_image import PASSWORD, USER, _request, push_image
from tests.support.cli import run_ci
from tests.support.git_remotes import copy_repositories, git, pack
from tests.support.gitops_project import ROOT, Project, make_project
from tests.support.registry import running_registry

PROD = "gitops/prod/values.yaml"
APPSET = "gitops/argocd/applicationset.yaml"
REPOSITORY = f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{SERVICE_NAME}"
BUILDS = ("1111aaaa", "2222bbbb", "3333cccc")
OVERRIDE = "\n\nPromotion-Override: INC-42, dev is down"
HOLD = 'by: "alice <alice@example.com>"\nsince: "2026-11-26T10:00:00Z"\nreason: "bad build"\n'
HELD = "prod is held by alice <alice@example.com> since 2026-11-26T10:00:00Z: bad build"
# The config blob push_image uploads (the same for every image it pushes).
_CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
).encode()
CONFIG_DESCRIPTOR = {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:" + hashlib.sha256(_CONFIG).hexdigest(),
    "size": len(_CONFIG),
}


def image(tag: str, digest: str = "") -> str:
    return f"{REPOSITORY}:{tag}" + (f"@{digest}" if digest else "")


@pytest.fixture(scope="module")
def built_project(tmp_path_factory) -> Project:
    """main: dev ran three builds (the last is live), prod runs the first; then a branch ``mr``."""
    project = make_project(tmp_path_factory.mktemp("check") / "project")
    project.set_tag("dev", BUILDS[0])
    project.set_tag("prod", BUILDS[0], f"promote(prod): {SERVICE_NAME} {BUILDS[0]}")
    project.set_tag("dev", BUILDS[1])
    project.set_tag("dev", BUILDS[2])
    project.branch("mr")
    pack(project.path)
    return project


@pytest.fixture
def project(built_project, tmp_path) -> Project:
    """A copy of ``built_project`` of the test's own (built once: five commits per test add up)."""
    copy_repositories(built_project.path, tmp_path / "project")
    return Project(tmp_path / "project")


def check(ci, project: Project, *args: str, env: dict[str, str] | None = None):
    """``python -m ci check`` in the project, in this process (``ci``)."""
    return ci("check", *args, cwd=project.path, env=env)


def main_tip(project: Project) -> str:
    return git("rev-parse", "main", cwd=project.path).strip()


def never_ran(project: Project, reference: str, env: str = "prod", source: str = "dev") -> str:
    return (
        f"{env}: image {reference} never ran in {source} (at a tip of the target branch up to "
        f"{main_tip(project)[:12]}); promote what {source} runs; add a 'Promotion-Override: "
        "<reason>' commit trailer to allow it"
    )


def cannot_generate(detail: str) -> str:
    """check's one line when Argo CD (as modelled) cannot generate the Applications."""
    return f"gitops/argocd: Argo CD cannot generate the Applications: {detail}\n"


def on_main(project: Project, message: str, edit) -> None:
    """Commit ``edit(project)`` on main, then come back to the branch."""
    branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=project.path).strip()
    git("checkout", "--quiet", "main", cwd=project.path)
    edit(project)
    project.commit(message)
    git("checkout", "--quiet", branch, cwd=project.path)


# --- the promotion rule ---------------------------------------------------------------------


def test_promoting_a_build_dev_ran_passes(project, ci):
    project.set_tag("prod", BUILDS[1], "Promote 2222bbbb to prod")
    result = check(ci, project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"check: {main_tip(project)[:12]}..{project.head()[:12]} ok\n"


def test_promoting_a_build_dev_never_ran_fails_with_one_line(project, ci):
    project.set_tag("prod", "9999ffff", "Promote a build nobody tested")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == never_ran(project, image("9999ffff")) + "\n"
    assert result.stderr.startswith("check: 1 problem in ")


def test_the_same_change_in_dev_does_not_count_as_having_run(project, ci):
    project.set_tag("dev", "9999ffff", "dev")
    project.set_tag("prod", "9999ffff", "prod")
    result = check(ci, project)
    assert result.stdout == never_ran(project, image("9999ffff")) + "\n"


def test_an_override_trailer_lets_it_through_and_says_so(project, ci):
    project.set_tag("prod", "9999ffff", "Hotfix straight to prod" + OVERRIDE)
    result = check(ci, project)
    assert result.returncode == 0, result.stdout
    assert (
        f"check: prod: Promotion-Override ({project.head()[:12]}) allows: image " in result.stderr
    )
    assert "never ran in dev" in result.stderr
    assert "reason: INC-42, dev is down" in result.stderr


def test_rolling_back_prod_to_a_build_it_ran_before_passes(project, ci):
    on_main(project, "prod ran 3", lambda p: p.set_tag("prod", BUILDS[2]))
    git("merge", "--quiet", "main", cwd=project.path)
    project.set_tag("prod", BUILDS[0], "rollback(prod)")
    assert check(ci, project).returncode == 0


def pin(project: Project, env: str, tag: str, digest: str) -> None:
    rel = f"gitops/{env}/values.yaml"
    project.write(rel, set_image(project.read(rel), tag, digest=digest, name=rel))
    project.commit(f"{env}: {tag}@{digest}")


def test_a_pinned_digest_must_be_the_build_that_ran(project, ci):
    ran, other = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    on_main(project, "dev pinned", lambda p: pin(p, "dev", BUILDS[2], ran))
    pin(project, "prod", BUILDS[2], other)
    result = check(ci, project)
    assert result.stdout == never_ran(project, image(BUILDS[2], other)) + "\n"
    pin(project, "prod", BUILDS[2], ran)
    assert check(ci, project).returncode == 0
    # A digest dev never ran with that tag: not the build that ran, even if the tag did.
    pin(project, "prod", BUILDS[1], other)
    assert check(ci, project).returncode == 1


def test_the_order_in_force_is_the_target_branch_one_and_changing_it_is_a_finding(project, ci):
    project.write(PROMOTION_FILE, "order: [dev]\n")
    project.set_tag("prod", "9999ffff", "no more order")
    result = check(ci, project)
    assert result.stdout.splitlines() == [
        never_ran(project, image("9999ffff")),
        "gitops/promotion.yaml: this merge request changes the promotion policy; add a "
        "'Promotion-Override: <reason>' commit trailer to allow it",
    ]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda p: (p.path / PROMOTION_FILE).unlink(), id="deleted"),
        pytest.param(lambda p: p.write(PROMOTION_FILE, "order: [prod, dev]\n"), id="reordered"),
        pytest.param(lambda p: p.write(PROMOTION_FILE, "order: [dev, prod]  # same\n"), id="byte"),
    ],
)
def test_any_change_of_the_promotion_file_needs_an_override(project, ci, edit):
    edit(project)
    project.commit("loosen the order")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith("gitops/promotion.yaml: this merge request changes the ")
    project.commit("allowed" + OVERRIDE)
    assert check(ci, project).returncode == 0


# --- wherever the image is set --------------------------------------------------------------


def test_another_registry_with_the_same_tag_never_ran(project, ci):
    evil = f"evil.example/{SERVICE_NAME}"
    project.write(PROD, set_image(project.read(PROD), BUILDS[2], evil, name=PROD))
    project.commit("same tag, other registry")
    result = check(ci, project)
    assert result.stdout == never_ran(project, f"{evil}:{BUILDS[2]}") + "\n"


@pytest.mark.parametrize(
    ("extra", "reference"),
    [
        pytest.param(
            "image:\n  tag: 9999ffff\n", None, id="tag-in-people-file-overridden-by-pipeline-file"
        ),
        pytest.param(
            "image:\n  digest: sha256:" + "c" * 64 + "\n",
            image(BUILDS[0], "sha256:" + "c" * 64),
            id="digest-in-people-file",
        ),
        pytest.param(
            "image:\n  repository: evil.example/x\n", None, id="repository-overridden-too"
        ),
    ],
)
def test_the_image_set_in_the_people_file_is_judged(project, ci, extra, reference):
    project.write("values.prod.yaml", project.read("values.prod.yaml") + extra)
    project.commit("image in values.prod.yaml")
    result = check(ci, project)
    if reference is None:  # the pipeline's file wins: prod runs what it ran
        assert result.returncode == 0, result.stdout
    else:
        assert result.stdout == never_ran(project, reference) + "\n"


def test_the_image_moved_out_of_the_pipeline_file_is_judged(project, ci):
    project.write(PROD, "image:\n  repository: " + REPOSITORY + "\n")
    project.write(
        "values.prod.yaml", project.read("values.prod.yaml") + "image:\n  tag: 9999ffff\n"
    )
    project.commit("move the tag")
    assert check(ci, project).stdout == never_ran(project, image("9999ffff")) + "\n"


def add_to_helm(project: Project, lines: str, message: str) -> None:
    """Commit ``lines`` into the ApplicationSet template's ``source.helm``."""
    helm = "          releaseName:"
    project.write(APPSET, project.read(APPSET).replace(helm, lines + helm))
    project.commit(message)


def test_values_object_in_the_argocd_manifests_is_judged(project, ci):
    add_to_helm(
        project, "          valuesObject:\n            image:\n              tag: 9999ffff\n", "vo"
    )
    result = check(ci, project)
    assert result.stdout == never_ran(project, image("9999ffff")) + "\n"


def test_helm_parameters_are_refused_as_not_modelled(project, ci):
    add_to_helm(
        project,
        "          parameters:\n            - name: image.tag\n              value: 9999ffff\n",
        "parameters",
    )
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith("gitops/argocd: Argo CD cannot generate the Applications: ")
    assert "spec.source.helm.parameters is not supported" in result.stdout


@pytest.mark.parametrize(
    "name", [".argocd-source.yaml", f".argocd-source-{SERVICE_NAME}-prod.yaml"]
)
def test_a_parameter_override_file_is_refused(project, ci, name):
    project.write(f"helm-chart/{name}", "helm:\n  parameters:\n  - name: image.tag\n    value: x\n")
    project.commit("override file")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout.startswith(
        f"gitops/argocd: Argo CD cannot generate the Applications: helm-chart/{name}: Argo CD "
        "would merge this parameter override file into Application"
    )


def test_an_image_in_the_chart_itself_is_judged(project, ci):
    template = "helm-chart/templates/deployment.yaml"
    text = project.read(template)
    hard_coded = text.replace('{{ include "chart.image" . | quote }}', '"evil.example/x:1"')
    assert hard_coded != text
    project.write(template, hard_coded)
    project.commit("hard-coded image")
    assert check(ci, project).stdout == never_ran(project, "evil.example/x:1") + "\n"


def test_a_nested_environment_folder_is_what_argo_cd_would_generate(project, ci):
    project.write(
        "gitops/extra/prod/values.yaml", f"image:\n  repository: x\n  tag: '{BUILDS[0]}'\n"
    )
    project.commit("a nested values file")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == cannot_generate("environment prod is deployed by two Applications")


def test_moving_where_argo_cd_reads_from_needs_an_override(project, ci):
    project.write(
        APPSET, project.read(APPSET).replace("targetRevision: main", "targetRevision: evil")
    )
    project.commit("read another branch")
    result = check(ci, project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["dev", "prod"]
    assert "@evil -> " in lines[1]
    assert "'Promotion-Override: <reason>'" in lines[1]


def test_removing_an_environment_needs_an_override(project, ci):
    git("rm", "--quiet", PROD, cwd=project.path)
    project.commit("drop prod")
    result = check(ci, project)
    assert result.stdout.startswith("prod: no Application deploys it after this merge request; ")


# --- holds ----------------------------------------------------------------------------------


def hold_prod(project: Project) -> None:
    on_main(
        project, "hold(prod): bad build [skip ci]", lambda p: p.write("gitops/prod/hold.yaml", HOLD)
    )


HOLD_LINE = (
    f"prod: {HELD}; release it with `python -m ci unhold --env prod` (pipeline job unhold-prod) "
    "first\n"
)


def test_a_held_environment_refuses_a_new_image(project, ci):
    hold_prod(project)
    project.set_tag("prod", BUILDS[1], "promote into a held prod")
    result = check(ci, project)
    assert result.stdout == HOLD_LINE


def test_a_hold_that_lands_after_the_merge_request_was_opened_stops_it(project, ci):
    project.set_tag("prod", BUILDS[1], "promote")
    assert check(ci, project).returncode == 0
    hold_prod(project)
    assert check(ci, project).stdout == HOLD_LINE


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda text: "# reviewed\n" + text, id="comment"),
        pytest.param(lambda text: "by: [1]\n", id="broken"),
        pytest.param(lambda text: text.replace("bad build", "fine now"), id="reason"),
    ],
)
def test_editing_the_hold_file_does_not_release_it(project, ci, edit):
    hold_prod(project)
    git("merge", "--quiet", "main", cwd=project.path)
    project.write("gitops/prod/hold.yaml", edit(HOLD))
    project.set_tag("prod", BUILDS[1], "edit the hold and promote" + OVERRIDE)
    assert check(ci, project).stdout == HOLD_LINE


def test_releasing_a_hold_needs_an_override(project, ci):
    hold_prod(project)
    git("merge", "--quiet", "main", cwd=project.path)
    git("rm", "--quiet", "gitops/prod/hold.yaml", cwd=project.path)
    project.set_tag("prod", BUILDS[1], "unhold and promote")
    result = check(ci, project)
    assert result.stdout == (
        f"prod: this merge request releases the hold ({HELD}); add a 'Promotion-Override: "
        "<reason>' commit trailer to allow it\n"
    )
    project.commit("released" + OVERRIDE)
    assert check(ci, project).returncode == 0


def test_an_unreadable_hold_on_the_target_still_holds(project, ci):
    on_main(project, "broken hold", lambda p: p.write("gitops/prod/hold.yaml", b"\xff\xfe"))
    project.set_tag("prod", BUILDS[1], "promote")
    result = check(ci, project)
    assert result.stdout.startswith("prod: prod is held (gitops/prod/hold.yaml is unreadable); ")


def test_a_rollback_that_sets_its_hold_passes(project, ci):
    on_main(project, "prod ran 3", lambda p: p.set_tag("prod", BUILDS[2]))
    git("merge", "--quiet", "main", cwd=project.path)
    project.write("gitops/prod/hold.yaml", HOLD.replace("bad build", "rollback from 3333cccc"))
    project.set_tag("prod", BUILDS[0], "rollback(prod)")
    assert check(ci, project).returncode == 0


# --- what counts: the target branch, its tips, the MR's own commits ---------------------------


def test_a_trailer_on_the_target_branch_does_not_excuse_the_merge_request(project, ci):
    diff_base = main_tip(project)  # where the MR forked: GitLab's CI_MERGE_REQUEST_DIFF_BASE_SHA
    project.set_tag("prod", "9999ffff", "promote an untested build")
    on_main(project, "unrelated" + OVERRIDE, lambda p: p.write("README.md", "x\n"))
    # A merged-results pipeline: HEAD merges the MR into the target's tip.
    git("checkout", "--quiet", "--detach", "main", cwd=project.path)
    git("merge", "--quiet", "--no-ff", "-m", "Merge branch 'mr'", "mr", cwd=project.path)
    result = check(ci, project, env={"CI_MERGE_REQUEST_DIFF_BASE_SHA": diff_base})
    assert result.stdout == never_ran(project, image("9999ffff")) + "\n"


def test_a_build_that_was_never_a_tip_of_main_never_ran(project, ci):
    git("checkout", "--quiet", "-b", "sneak", "main", cwd=project.path)
    project.set_tag("dev", "9999ffff", "dev runs it (never merged alone)")
    project.set_tag("dev", "4444dddd", "then another build")
    git("checkout", "--quiet", "main", cwd=project.path)
    git("merge", "--quiet", "--no-ff", "-m", "merge sneak", "sneak", cwd=project.path)
    project.branch("mr2")
    project.set_tag("prod", "9999ffff", "promote what 'dev ran'")
    assert check(ci, project).stdout == never_ran(project, image("9999ffff")) + "\n"


def test_a_build_dev_ran_long_ago_counts(project, ci):
    project.set_tag("prod", BUILDS[1], "promote an older build dev ran")
    assert check(ci, project).returncode == 0


def test_the_target_branch_is_fetched_from_origin(project, ci, tmp_path):
    bare = tmp_path / "origin.git"
    git("clone", "--quiet", "--bare", str(project.path), str(bare), cwd=tmp_path)
    git("remote", "add", "origin", bare.as_uri(), cwd=project.path)
    project.set_tag("prod", BUILDS[1], "promote")
    assert check(ci, project).returncode == 0
    # The hold lands on origin's main after the MR was opened: the local main is stale.
    clone = tmp_path / "clone"
    git("clone", "--quiet", "--branch", "main", bare.as_uri(), str(clone), cwd=tmp_path)
    (clone / "gitops/prod/hold.yaml").write_text(HOLD)
    git("add", ".", cwd=clone)
    git("commit", "--quiet", "-m", "hold", cwd=clone)
    git("push", "--quiet", "origin", "main", cwd=clone)
    result = check(ci, project, env={"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"})
    assert result.stdout.startswith(f"prod: {HELD}; ")


@pytest.mark.parametrize("branch", ["--upload-pack=touch x", "a..b", "main:evil"])
def test_a_target_branch_that_is_no_branch_name_is_exit_2(project, ci, tmp_path, branch):
    git("remote", "add", "origin", (tmp_path / "nowhere.git").as_uri(), cwd=project.path)
    result = check(ci, project, "--target-branch", branch)
    assert result.returncode == 2
    assert result.stderr == f"error: --target-branch {branch!r} is not a branch name\n"


def test_a_merge_request_that_conflicts_fails(project, ci):
    on_main(project, "prod ran 2", lambda p: p.set_tag("prod", BUILDS[1]))
    project.set_tag("prod", BUILDS[2], "promote 3")
    result = check(ci, project)
    assert result.returncode == 1
    assert (
        result.stdout
        == f"{project.head()[:12]}: conflicts with {main_tip(project)[:12]}: rebase it\n"
    )


# --- files --------------------------------------------------------------------------------


def test_a_pipeline_owned_file_may_change_only_the_image_keys(project, ci):
    text = project.read(PROD).replace("image:\n", "replicaCount: 5\nimage:\n  pullPolicy: Always\n")
    project.write(PROD, text)
    project.commit("scale prod")
    result = check(ci, project)
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


def test_a_render_error_names_the_file_to_fix(project, ci):
    project.write("values.prod.yaml", project.read("values.prod.yaml") + "replicaCount: many\n")
    project.commit("prod: more replicas")
    [line] = check(ci, project).stdout.splitlines()
    assert line.startswith("prod: does not render as Argo CD renders it: ")
    assert line.endswith("[values.prod.yaml: replicaCount]")


def test_a_values_file_for_no_environment_is_reported(project, ci):
    project.write("values.prd.yaml", "replicaCount: 2\n")
    project.commit("typo")
    assert check(ci, project).stdout == (
        "prd: no Argo CD Application deploys this environment (known: dev, prod)\n"
    )


def test_a_pipeline_file_that_is_not_utf8_is_named(project, ci):
    project.write(PROD, b"image:\n  tag: \xff\xfe\n")
    project.commit("binary")
    result = check(ci, project)
    assert result.stdout == cannot_generate(
        "gitops/prod/values.yaml: not UTF-8 (the git files generator reads it)"
    )


def test_a_link_out_of_the_repository_is_refused(project, ci):
    os.symlink("/etc/passwd", project.path / "helm-chart" / "passwd")
    project.commit("a link")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == cannot_generate(
        "helm-chart/passwd: a link out of the repository (Argo CD refuses the repository)"
    )


def test_a_file_git_archive_would_leave_out_is_still_judged(project, ci):
    """``export-ignore`` hides a file from ``git archive``, not from Argo CD's checkout."""
    project.write(".gitattributes", "helm-chart/templates/job.yaml export-ignore\n")
    project.write(
        "helm-chart/templates/job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  template:\n"
        "    spec:\n      restartPolicy: Never\n      containers:\n"
        "        - name: x\n          image: evil.example/x:1\n",
    )
    project.commit("a job nobody sees")
    result = check(ci, project)
    assert never_ran(project, "evil.example/x:1") in result.stdout.splitlines()


def test_a_submodule_is_refused(project, ci, tmp_path):
    inner = make_project(tmp_path / "inner")
    git("submodule", "--quiet", "add", inner.path.as_uri(), "helm-chart/templates/more",
        cwd=project.path, env={"GIT_ALLOW_PROTOCOL": "file"})  # fmt: skip
    project.commit("a submodule")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == cannot_generate(
        "helm-chart/templates/more: a submodule (Argo CD would check it out; the gate cannot "
        "see it)"
    )


def test_a_new_application_into_an_environments_namespace_is_refused(project, ci):
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "sneaky", "namespace": "argocd"},
        "spec": {
            "project": SERVICE_NAME,
            "source": {
                "repoURL": "https://gitlab.example.com/acme/x.git",
                "targetRevision": "main",
                "path": "helm-chart",
                "helm": {
                    "valueFiles": ["../gitops/sneaky/values.yaml"],
                    "ignoreMissingValueFiles": True,
                    "valuesObject": {"image": {"repository": "evil.example/x", "tag": "1"}},
                },
            },
            "destination": {
                "server": "https://kubernetes.default.svc",
                "namespace": f"{SERVICE_NAME}-prod",
            },
        },
    }
    project.write("gitops/argocd/sneaky.yaml", json.dumps(application))
    project.commit("a new environment, in prod's namespace")
    result = check(ci, project)
    assert result.stdout == cannot_generate(
        f"Applications {SERVICE_NAME}-prod and sneaky both deploy to "
        f"https://kubernetes.default.svc/{SERVICE_NAME}-prod"
    )


def test_no_change_to_what_runs_is_a_pass(project, ci):
    project.write("README.md", "docs\n")
    project.commit("docs")
    assert check(ci, project).returncode == 0


def test_base_flag_names_the_commit_to_judge_against(project, ci):
    good = project.set_tag("prod", BUILDS[1], "good")
    project.set_tag("prod", "9999ffff", "bad")
    assert check(ci, project, "--base", good).returncode == 1
    assert check(ci, project, "--base", "HEAD").returncode == 0


@pytest.mark.parametrize("base", ["no-such-ref", "-x", "0" * 40])
def test_a_bad_base_is_exit_2_with_one_line(project, base, ci):
    result = check(ci, project, f"--base={base}")
    assert result.returncode == 2
    assert result.stderr == f"error: --base {base!r} is not a commit of this checkout\n"


def test_a_malformed_promotion_order_is_exit_2(project, ci):
    on_main(project, "bad order", lambda p: p.write(PROMOTION_FILE, "order: [dev, dev]\n"))
    project.set_tag("prod", BUILDS[1])
    result = check(ci, project)
    assert result.returncode == 2
    assert result.stderr == "error: gitops/promotion.yaml: dev is listed twice\n"


@pytest.mark.integration
def test_outside_a_repository_is_exit_2(tmp_path):
    result = run_ci("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a git working tree" in result.stderr


# --- --verify-image ---------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path):
    with running_registry(tmp_path / "registry", USER, PASSWORD) as running:
        yield running


def registry_env(registry) -> dict[str, str]:
    return {
        "REGISTRY_INSECURE": "true",
        "REGISTRY_USER": USER,
        "REGISTRY_PASSWORD": PASSWORD,
        "ECR_REPOSITORY_URL": f"{registry.host}/{SERVICE_NAME}",
    }


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
def test_a_reference_with_a_digest_is_checked_by_tag_and_digest(registry):
    env = registry_env(registry)
    repository = f"{registry.host}/{SERVICE_NAME}"
    one = push_variant(registry.host, "one", "first")
    two = push_variant(registry.host, "two", "second")
    absent = "sha256:" + "0" * 64
    assert verify_reference(f"{repository}:one@{one}", env) is None
    assert verify_reference(f"{repository}@{two}", env) is None
    assert verify_reference(f"{repository}:one@{two}", env) == (
        f"image {repository}:one is {one} in the registry, not {two}"
    )
    assert verify_reference(f"{repository}@{absent}", env) == (
        f"image {repository}@{absent} not found in the registry"
    )
    assert verify_reference(f"{repository}:three@{one}", env) == (
        f"image {repository}:three not found in the registry"
    )


def test_promotion_file_is_what_the_repository_declares():
    assert parse_order((ROOT / PROMOTION_FILE).read_text()).order == ("dev", "prod")


# --- rejected builds and promotion evidence -------------------------------------------------------

DIGEST = "sha256:" + "d" * 64
RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
POLICY = f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n"
REJECTED = Rejection(BUILDS[1], None, "failed verification", "vera", "2026-01-02T00:00:00Z")
VERDICTS = verdicts_path("dev")


def ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def passed(tag: str, started: int) -> Verdict:
    return Verdict("dev", tag, None, Outcome.PASSED, 80, 0.0, 0.1, ago(started), ago(started - 5))


def on_main_merged(project: Project, edit) -> None:
    """Commit ``edit(project)`` on main, then merge main into the branch ``mr``."""
    git("checkout", "--quiet", "main", cwd=project.path)
    edit(project)
    project.commit("on main")
    git("checkout", "--quiet", "mr", cwd=project.path)
    git("merge", "--quiet", "main", cwd=project.path)


def rejected_line(env: str, reference: str) -> str:
    return (
        f"{env}: runs {reference}: {REJECTED.describe()}; roll {env} back, or `python -m ci"
        f" unreject --tag {BUILDS[1]} --reason TEXT` allows it again"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Project:
    """main: the evidence policy; dev ran builds 0, 1 (rejected) and 2; prod runs 0; branch mr."""
    project = make_project(tmp_path_factory.mktemp("check-records") / "project")
    project.write(PROMOTION_FILE, POLICY)
    project.commit("policy: verify dev, soak 30m")
    project.set_tag("dev", BUILDS[0])
    project.set_tag("prod", BUILDS[0])
    project.set_tag("dev", BUILDS[1])
    project.write(REJECTED_FILE, format_rejections([REJECTED]))
    project.set_tag("dev", BUILDS[2], "record(dev): rollback, reject")
    project.branch("mr")
    return project


@pytest.mark.integration
class TestRejectedBuildsAndEvidence:
    """``check`` on rejected builds and promotion evidence, on a project whose main has the
    evidence policy (verify dev, soak 30m) and a rejected build dev ran: a rejected build running
    anywhere after the merge fails the MR whatever its trailers (deleting gitops/rejected.yaml or
    renaming the tag changes nothing); a promotion without its source's evidence is a finding an
    Evidence-Override or Promotion-Override allows."""

    @pytest.fixture
    def project(self, built, tmp_path) -> Project:
        """A copy of ``built`` of the test's own: in this class it stands in for ``project``."""
        shutil.copytree(built.path, tmp_path / "project", symlinks=True)
        return Project(tmp_path / "project")

    def test_promoting_a_rejected_build_fails_whatever_the_trailers(self, project, ci):
        project.set_tag("prod", BUILDS[1], "promote\n\nPromotion-Override: x\nEvidence-Override: y")
        result = check(ci, project)
        assert result.returncode == 1
        assert rejected_line("prod", image(BUILDS[1])) in result.stdout.splitlines()

    def test_deleting_the_rejected_file_gets_around_nothing(self, project, ci):
        (project.path / REJECTED_FILE).unlink()
        project.set_tag("dev", BUILDS[1], "dev back to the rejected build, file gone")
        lines = check(ci, project).stdout.splitlines()
        assert lines[0] == rejected_line("dev", image(BUILDS[1]))
        assert lines[1].startswith(
            f"{REJECTED_FILE}: this merge request releases a rejection: {REJECTED.describe()};"
        )

    def test_a_rejected_tag_under_another_digest_or_a_digest_under_another_tag(self, project, ci):
        on_main_merged(project, lambda p: p.write(REJECTED_FILE, format_rejections(
            [REJECTED, Rejection("gone", DIGEST, "by digest", "ann", "s")]
        )))  # fmt: skip
        path = "gitops/dev/values.yaml"
        project.write(path, set_image(project.read(path), "renamed", digest=DIGEST, name=path))
        project.commit("the rejected digest under another tag")
        result = check(ci, project)
        assert result.stdout.splitlines()[0].startswith(
            f"dev: runs {image('renamed', DIGEST)}: gone@"
        )

    def test_a_promotion_without_evidence_is_a_finding_an_override_allows(self, project, ci):
        project.set_tag("prod", BUILDS[2], f"promote(prod): {BUILDS[2]}")
        result = check(ci, project)
        assert result.returncode == 1
        assert result.stdout == (
            f"prod: image {image(BUILDS[2])}: dev has no verdict on {BUILDS[2]}: its policy asks"
            " for a passed verification; add an 'Evidence-Override: <reason>' (or a"
            " 'Promotion-Override: <reason>') commit trailer to allow it\n"
        )
        project.commit("allowed\n\nEvidence-Override: INC-9, dev is down")
        allowed = check(ci, project)
        assert allowed.returncode == 0, allowed.stdout
        assert (
            f"check: prod: Evidence-Override ({project.head()[:12]}) allows: image "
            in allowed.stderr
        )
        assert "reason: INC-9, dev is down" in allowed.stderr

    @pytest.mark.parametrize(("started", "ok"), [(12, False), (40, True)])
    def test_the_soak_counts_from_the_passed_verdict_on_the_target(self, project, ci, started, ok):
        on_main_merged(
            project,
            lambda p: p.write(VERDICTS, format_verdicts("dev", [passed(BUILDS[2], started)])),
        )
        project.set_tag("prod", BUILDS[2], "promote")
        result = check(ci, project)
        assert result.returncode == (0 if ok else 1), result.stdout
        if not ok:
            assert f"dev has run {BUILDS[2]} verified for 1" in result.stdout
            assert "m of its 30m soak: " in result.stdout

    def test_a_passed_verdict_written_in_the_mr_counts_for_nothing_and_is_a_finding(
        self, project, ci
    ):
        project.write(VERDICTS, format_verdicts("dev", [passed(BUILDS[2], 60)]))
        project.set_tag("prod", BUILDS[2], "promote, with evidence of my own")
        lines = check(ci, project).stdout.splitlines()
        assert lines[0].startswith(
            f"{VERDICTS}: this merge request records a passed verification of "
        )
        assert lines[1].startswith(f"prod: image {image(BUILDS[2])}: dev has no verdict on ")

    def test_without_a_verify_rule_the_soak_counts_from_the_commit_that_set_it(self, project, ci):
        on_main_merged(
            project, lambda p: p.write(PROMOTION_FILE, "order: [dev, prod]\nsoak:\n  dev: 30m\n")
        )
        project.set_tag("prod", BUILDS[2], "promote")
        result = check(ci, project)
        assert result.returncode == 1
        assert f"prod: image {image(BUILDS[2])}: dev has run {BUILDS[2]} for " in result.stdout
        assert "of its 30m soak: " in result.stdout
