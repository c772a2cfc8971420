"""``python -m ci check`` on rejected builds and promotion evidence, on real git repositories
shaped like this project (its chart, Argo CD manifests and policy), deciding from what Argo CD
renders: a rejected build running anywhere after the merge fails the MR whatever its trailers
(deleting gitops/rejected.yaml or renaming the tag changes nothing); a promotion without its
source's evidence is a finding an Evidence-Override or Promotion-Override allows."""

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from app import SERVICE_NAME
from ci.gitops.promotion import PROMOTION_FILE
from ci.gitops.rejections import REJECTED_FILE, Rejection, format_rejections
from ci.gitops.values import set_image
from ci.gitops.verdicts import Outcome, Verdict, format_verdicts, verdicts_path
from tests.support.git_remotes import git
from tests.support.gitops_project import Project, make_project

pytestmark = pytest.mark.integration
REPOSITORY = f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{SERVICE_NAME}"
BUILDS = ("1111aaaa", "2222bbbb", "3333cccc")
DIGEST = "sha256:" + "d" * 64
RULE = "{window: 5m, max_error_ratio: 0.01, max_latency_p95: 0.5, min_requests: 50}"
POLICY = f"order: [dev, prod]\nverify:\n  dev: {RULE}\nsoak:\n  dev: 30m\n"
REJECTED = Rejection(BUILDS[1], None, "failed verification", "vera", "2026-01-02T00:00:00Z")
VERDICTS = verdicts_path("dev")


def ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def passed(tag: str, started: int) -> Verdict:
    return Verdict("dev", tag, None, Outcome.PASSED, 80, 0.0, 0.1, ago(started), ago(started - 5))


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


@pytest.fixture
def project(built, tmp_path) -> Project:
    shutil.copytree(built.path, tmp_path / "project", symlinks=True)
    return Project(tmp_path / "project")


def check(ci, project: Project):
    return ci("check", "--target-branch", "main", cwd=project.path)


def on_main(project: Project, edit) -> None:
    git("checkout", "--quiet", "main", cwd=project.path)
    edit(project)
    project.commit("on main")
    git("checkout", "--quiet", "mr", cwd=project.path)
    git("merge", "--quiet", "main", cwd=project.path)


def image(tag: str, digest: str = "") -> str:
    return f"{REPOSITORY}:{tag}" + (f"@{digest}" if digest else "")


def rejected_line(env: str, reference: str) -> str:
    return (
        f"{env}: runs {reference}: {REJECTED.describe()}; roll {env} back, or `python -m ci"
        f" unreject --tag {BUILDS[1]} --reason TEXT` allows it again"
    )


def test_promoting_a_rejected_build_fails_whatever_the_trailers(project, ci):
    project.set_tag("prod", BUILDS[1], "promote\n\nPromotion-Override: x\nEvidence-Override: y")
    result = check(ci, project)
    assert result.returncode == 1
    assert rejected_line("prod", image(BUILDS[1])) in result.stdout.splitlines()


def test_deleting_the_rejected_file_gets_around_nothing(project, ci):
    (project.path / REJECTED_FILE).unlink()
    project.set_tag("dev", BUILDS[1], "dev back to the rejected build, file gone")
    lines = check(ci, project).stdout.splitlines()
    assert lines[0] == rejected_line("dev", image(BUILDS[1]))
    assert lines[1].startswith(
        f"{REJECTED_FILE}: this merge request releases a rejection: {REJECTED.describe()};"
    )


def test_a_rejected_tag_under_another_digest_or_a_digest_under_another_tag(project, ci):
    on_main(project, lambda p: p.write(REJECTED_FILE, format_rejections(
        [REJECTED, Rejection("gone", DIGEST, "by digest", "ann", "s")]
    )))  # fmt: skip
    path = "gitops/dev/values.yaml"
    project.write(path, set_image(project.read(path), "renamed", digest=DIGEST, name=path))
    project.commit("the rejected digest under another tag")
    result = check(ci, project)
    assert result.stdout.splitlines()[0].startswith(f"dev: runs {image('renamed', DIGEST)}: gone@")


def test_a_promotion_without_evidence_is_a_finding_an_override_allows(project, ci):
    project.set_tag("prod", BUILDS[2], f"promote(prod): {BUILDS[2]}")
    result = check(ci, project)
    assert result.returncode == 1
    assert result.stdout == (
        f"prod: image {image(BUILDS[2])}: dev has no verdict on {BUILDS[2]}: its policy asks for a"
        " passed verification; add an 'Evidence-Override: <reason>' (or a 'Promotion-Override:"
        " <reason>') commit trailer to allow it\n"
    )
    project.commit("allowed\n\nEvidence-Override: INC-9, dev is down")
    allowed = check(ci, project)
    assert allowed.returncode == 0, allowed.stdout
    assert (
        f"check: prod: Evidence-Override ({project.head()[:12]}) allows: image " in allowed.stderr
    )
    assert "reason: INC-9, dev is down" in allowed.stderr


@pytest.mark.parametrize(("started", "ok"), [(12, False), (40, True)])
def test_the_soak_counts_from_the_passed_verdict_on_the_target(project, ci, started, ok):
    on_main(
        project, lambda p: p.write(VERDICTS, format_verdicts("dev", [passed(BUILDS[2], started)]))
    )
    project.set_tag("prod", BUILDS[2], "promote")
    result = check(ci, project)
    assert result.returncode == (0 if ok else 1), result.stdout
    if not ok:
        assert f"dev has run {BUILDS[2]} verified for 1" in result.stdout
        assert "m of its 30m soak: " in result.stdout


def test_a_passed_verdict_written_in_the_mr_counts_for_nothing_and_is_a_finding(project, ci):
    project.write(VERDICTS, format_verdicts("dev", [passed(BUILDS[2], 60)]))
    project.set_tag("prod", BUILDS[2], "promote, with evidence of my own")
    lines = check(ci, project).stdout.splitlines()
    assert lines[0].startswith(f"{VERDICTS}: this merge request records a passed verification of ")
    assert lines[1].startswith(f"prod: image {image(BUILDS[2])}: dev has no verdict on ")


def test_without_a_verify_rule_the_soak_counts_from_the_commit_that_set_it(project, ci):
    on_main(project, lambda p: p.write(PROMOTION_FILE, "order: [dev, prod]\nsoak:\n  dev: 30m\n"))
    project.set_tag("prod", BUILDS[2], "promote")
    result = check(ci, project)
    assert result.returncode == 1
    assert f"prod: image {image(BUILDS[2])}: dev has run {BUILDS[2]} for " in result.stdout
    assert "of its 30m soak: " in result.stdout
