"""The IAM policies in aws/ against the pipelines and the code that use them.

Trust: the role is assumed by `build` (every branch and merge-request pipeline), `gitops-check`
(every merge request, promotion branches `gitops/<env>/<tag>` included) and the deploy jobs
(default branch). GitLab's ID token `sub` is `project_path:GROUP/PROJECT:ref_type:branch:ref:REF`
with the *source* branch as REF in a merge-request pipeline, and nothing that tells a merge
request from a push; so the trust policy must admit every branch of the project, and nothing else.
"""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import SERVICE_NAME
from tests.support import iam

# The GitLab project, from its one home (the chart's `home:`, what `make rename` rewrites).
HOME = re.search(
    r"^home: *(\S+)", (Path(__file__).parents[2] / "helm-chart/Chart.yaml").read_text(), re.M
)[1]
HOST = urlsplit(HOME).netloc
PROJECT = urlsplit(HOME).path.strip("/")
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
TRUST = iam.load("ci-role-trust-policy.json")


def claims(
    ref: str, project: str = PROJECT, ref_type: str = "branch", aud: str = "sts.amazonaws.com"
):
    sub = f"project_path:{project}:ref_type:{ref_type}:ref:{ref}"
    return {f"{HOST}:sub": sub, f"{HOST}:aud": aud}


# The pipelines that use the role, by the `sub` their jobs' ID tokens carry.
PIPELINES = {
    "default branch (build, deploy-dev, promote-prod)": "main",
    "feature branch (build, a deploy-dev button)": "feature/faster-echo",
    "merge request from a feature branch (build, gitops-check)": "feature/faster-echo",
    "merge request from a promotion branch (gitops-check)": "gitops/prod/1a2b3c4d",
    "merge request from a hold branch (gitops-check)": "gitops-holds/prod/unhold",
}


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_pipeline_that_uses_the_role_may_assume_it(pipeline: str) -> None:
    assert iam.trust_allows(TRUST, PROVIDER, claims(PIPELINES[pipeline]))


@pytest.mark.parametrize(
    ("who", "token"),
    [
        ("another project", claims("main", project="acme/other")),
        ("a project whose path starts the same", claims("main", project=f"{PROJECT}-fork")),
        ("a tag pipeline", claims("v1.0", ref_type="tag")),
        ("a token for another audience", claims("main", aud="https://vault.example.com")),
        ("another provider", None),
    ],
)
def test_nothing_else_may(who: str, token) -> None:
    provider = PROVIDER if token else "arn:aws:iam::123456789012:oidc-provider/gitlab.com"
    assert not iam.trust_allows(TRUST, provider, token or claims("main")), who


def test_the_documented_main_only_policy_fails_the_branch_pipelines() -> None:
    """The control: the trust policy the docs gave before (StringEquals on ref:main) refuses the
    feature branch and the promotion branch, so `build` and `gitops-check` failed there."""
    old = json.loads(json.dumps(TRUST))
    condition = old["Statement"][0]["Condition"]
    condition["StringEquals"][f"{HOST}:sub"] = f"project_path:{PROJECT}:ref_type:branch:ref:main"
    del condition["StringLike"]
    assert iam.trust_allows(old, PROVIDER, claims("main"))
    assert not iam.trust_allows(old, PROVIDER, claims("feature/faster-echo"))
    assert not iam.trust_allows(old, PROVIDER, claims("gitops/prod/1a2b3c4d"))


def test_a_wildcard_needs_string_like() -> None:
    """IAM's StringEquals takes `*` literally: `ref:*` there admits no pipeline."""
    old = json.loads(json.dumps(TRUST))
    condition = old["Statement"][0]["Condition"]
    condition["StringEquals"].update(condition.pop("StringLike"))
    assert not iam.trust_allows(old, PROVIDER, claims("main"))


def test_make_rename_renders_the_policies() -> None:
    from scripts.rename import Identity, plan

    files = {f"aws/{name}": (iam.AWS_DIR / name).read_text() for name in iam.POLICY_FILES}
    old = Identity(SERVICE_NAME, f"https://{HOST}/{PROJECT}")
    new = Identity("billing", "https://git.corp.io/platform/billing")
    changed = {path: json.loads(text) for path, (text, _) in plan(files, old, new).items()}
    trust = changed["aws/ci-role-trust-policy.json"]
    provider = "arn:aws:iam::123456789012:oidc-provider/git.corp.io"
    token = {
        "git.corp.io:sub": "project_path:platform/billing:ref_type:branch:ref:main",
        "git.corp.io:aud": "sts.amazonaws.com",
    }
    assert iam.trust_allows(trust, provider, token)
    resources = iam.granted(changed["aws/ci-role-policy.json"])
    assert "arn:aws:ecr:eu-central-1:123456789012:repository/billing-cache" in resources
