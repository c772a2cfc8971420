"""A hostile-merge-request fuzz of ``python -m ci check``: hypothesis writes merge requests that
set the image wherever Helm or Argo CD would take it from (the pipeline's file, the people's file,
the chart's defaults, ``valuesObject``), edit holds and the promotion policy, add files Argo CD
would merge, in odd YAML (flow, CRLF, anchors, quoting), with or without an override trailer.

The gate must pass exactly the merge requests that a separate oracle allows. The oracle knows
nothing of the gate's code: it merges the layers the way Helm does (chart, values.<env>.yaml,
gitops/<env>/values.yaml, valuesObject), and applies the rule of docs/gitops.md to the image
each environment ends up running.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import SERVICE_NAME
from ci.gitops.checkout import Checkout
from ci.gitops.review import collect
from tests.support.git_remotes import git
from tests.support.gitops_project import make_project

pytestmark = pytest.mark.integration

EXAMPLES = 500
REPO = f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/{SERVICE_NAME}"
EVIL = "evil.example/x"
A, B, C, X = "1111aaaa", "2222bbbb", "3333cccc", "9999ffff"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
# What ran at tips of main: dev ran A, B, then C pinned to D1 (live); prod runs A.
DEV_RAN = {f"{REPO}:{A}", f"{REPO}:{B}", f"{REPO}:{C}@{D1}"}
PROD_RAN = {f"{REPO}:{A}"}
LIVE = {"dev": {"repository": REPO, "tag": C, "digest": D1}, "prod": {"repository": REPO, "tag": A}}
HOLD = 'by: "alice"\nsince: "2026-11-26T10:00:00Z"\nreason: "bad build"\n'
KEYS = ("repository", "tag", "digest")
VALUES = {"repository": [REPO, EVIL], "tag": [A, B, C, X], "digest": [D1, D2]}


@dataclass(frozen=True)
class MergeRequest:
    target: str  # "main", or "held" (prod held)
    people: dict  # env -> image keys set in values.<env>.yaml
    pipeline: dict  # env -> image keys of gitops/<env>/values.yaml (None: key removed)
    values_object: dict  # image keys in the ApplicationSet's helm.valuesObject
    chart: dict  # image keys in helm-chart/values.yaml
    hold: str  # none | edit | delete | create
    policy: str  # none | comment | delete | reorder
    override_file: bool
    parameters: bool
    trailer: bool
    style: str  # block | flow | crlf | anchor | duplicate


def image_keys(optional: bool = True):
    value = {key: st.sampled_from(VALUES[key]) for key in KEYS}
    return st.fixed_dictionaries({}, optional=value) if optional else st.fixed_dictionaries(value)


def pipeline_keys():
    """Per key: unchanged (absent here), set to a value, or removed (None)."""
    return st.fixed_dictionaries(
        {},
        optional={key: st.one_of(st.none(), st.sampled_from(VALUES[key])) for key in KEYS},
    )


# What promote and rollback write into prod's pipeline file: builds dev or prod ran.
PROMOTIONS = [{"tag": B}, {"tag": C, "digest": D1}, {"tag": A}, {"tag": C}]


def usually(value, *others):
    """``value`` two times in three, else one of ``others``."""
    return st.one_of(st.just(value), st.just(value), st.just(value), st.just(value), *others)


def rare(p: float = 0.1):
    return st.floats(0, 1).map(lambda x: x < p)


merge_requests = st.builds(
    MergeRequest,
    target=st.sampled_from(["main", "held"]),
    people=st.fixed_dictionaries(
        {"dev": usually({}, image_keys()), "prod": usually({}, image_keys())}
    ),
    pipeline=st.fixed_dictionaries(
        {
            "dev": usually({}, pipeline_keys()),
            "prod": usually({}, st.sampled_from(PROMOTIONS), pipeline_keys()),
        }
    ),
    values_object=usually({}, image_keys()),
    chart=usually({}, image_keys()),
    hold=st.sampled_from(["none", "none", "edit", "delete", "create"]),
    policy=st.sampled_from(["none", "none", "none", "comment", "delete", "reorder"]),
    override_file=rare(0.05),
    parameters=rare(0.05),
    trailer=st.booleans(),
    style=st.sampled_from(["block", "flow", "crlf", "anchor", "duplicate"]),
)


# --- the oracle -----------------------------------------------------------------------------


def runs_after(mr: MergeRequest, env: str) -> str | None:
    """The image ``env`` runs after the merge, as Helm merges the layers (None: no render)."""
    image = dict(mr.chart)
    image.update(mr.people.get(env, {}))
    pipeline = dict(LIVE[env])
    for key, value in mr.pipeline[env].items():
        if value is None:
            pipeline.pop(key, None)
        else:
            pipeline[key] = value
    image.update(pipeline)
    image.update(mr.values_object)
    if not image.get("repository") or not image.get("tag"):
        return None  # values.schema.json requires both
    digest = f"@{image['digest']}" if image.get("digest") else ""
    return f"{image['repository']}:{image['tag']}{digest}"


def before(env: str) -> str:
    live = LIVE[env]
    return f"{live['repository']}:{live['tag']}" + (
        f"@{live['digest']}" if "digest" in live else ""
    )


def oracle(mr: MergeRequest) -> bool:
    """Whether the merge request may merge, by the rule of docs/gitops.md."""
    if mr.override_file or mr.parameters:
        return False  # Argo CD would merge what the model cannot see: refused
    after = {env: runs_after(mr, env) for env in ("dev", "prod")}
    if None in after.values():
        return False  # an environment that does not render
    findings = mr.policy != "none"
    changed = after["prod"] != before("prod")
    if changed and after["prod"] not in DEV_RAN | PROD_RAN:
        findings = True
    if mr.target == "held":
        if mr.hold == "delete":
            findings = True
        elif changed:
            return False  # a held environment that keeps its hold never changes
    return not findings or mr.trailer


# --- writing the merge request --------------------------------------------------------------


def dump(data: dict, style: str) -> str:
    if style == "flow":
        return json.dumps(data) + "\n"
    lines = ["# written by the fuzz"]
    if style == "duplicate":  # the same key twice: the later one wins
        lines += ["image:", f"  tag: {X}", f"  repository: {EVIL}"]
    for key, value in data.items():
        lines.append(f"{key}:" + (" &layer" if style == "anchor" else ""))
        lines += [f"  {k}: {json.dumps(v)}" for k, v in value.items()]
        if not value:
            lines[-1] += " {}"
    text = "\n".join(lines) + "\n"
    return text.replace("\n", "\r\n") if style == "crlf" else text


def write(root: Path, mr: MergeRequest) -> str:
    """Write ``mr`` over the target's files; the commit message."""
    for env in ("dev", "prod"):
        if mr.people.get(env):
            people = root / f"values.{env}.yaml"
            people.write_text(people.read_text() + dump({"image": mr.people[env]}, "block"))
        if mr.pipeline[env]:
            image = {**LIVE[env], **mr.pipeline[env]}
            image = {key: value for key, value in image.items() if value is not None}
            (root / f"gitops/{env}/values.yaml").write_text(dump({"image": image}, mr.style))
    _argocd(root, mr)
    if mr.chart:
        chart = root / "helm-chart/values.yaml"
        lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in mr.chart.items())
        # After the chart's own `digest: ""`: a key given twice, the later wins (as in Helm).
        text = chart.read_text().replace('\n  digest: ""\n', '\n  digest: ""\n' + lines, 1)
        chart.write_text(text)
    _hold_and_policy(root, mr)
    return "hostile change" + ("\n\nPromotion-Override: fuzz" if mr.trailer else "")


def _argocd(root: Path, mr: MergeRequest) -> None:
    appset = root / "gitops/argocd/applicationset.yaml"
    text = appset.read_text()
    extra = ""
    if mr.values_object:
        keys = "".join(f"              {k}: {json.dumps(v)}\n" for k, v in mr.values_object.items())
        extra += "          valuesObject:\n            image:\n" + keys
    if mr.parameters:
        extra += "          parameters:\n            - name: image.tag\n              value: x\n"
    appset.write_text(text.replace("          releaseName:", extra + "          releaseName:", 1))
    if mr.override_file:
        override = root / f"helm-chart/.argocd-source-{SERVICE_NAME}-prod.yaml"
        override.write_text("helm:\n  parameters:\n  - name: image.tag\n    value: x\n")


def _hold_and_policy(root: Path, mr: MergeRequest) -> None:
    hold = root / "gitops/prod/hold.yaml"
    if mr.hold == "delete":
        hold.unlink(missing_ok=True)
    elif mr.hold == "edit" and hold.exists():
        hold.write_text("# still held\n" + hold.read_text())
    elif mr.hold == "create":
        hold.write_text(HOLD.replace("bad build", "set by the merge request"))
    policy = root / "gitops/promotion.yaml"
    if mr.policy == "delete":
        policy.unlink()
    elif mr.policy == "comment":
        policy.write_text(policy.read_text() + "# reviewed\n")
    elif mr.policy == "reorder":
        policy.write_text("order: [prod, dev]\n")


# --- the repository -------------------------------------------------------------------------


@dataclass
class Repo:
    path: Path
    targets: dict  # name -> commit

    def merge_request(self, mr: MergeRequest) -> str:
        git("checkout", "--quiet", "--force", "-B", "mr", self.targets[mr.target], cwd=self.path)
        git("clean", "--quiet", "-fdx", cwd=self.path)
        message = write(self.path, mr)
        git("add", "--all", cwd=self.path)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.path)
        return git("rev-parse", "HEAD", cwd=self.path).strip()


HISTORY = [
    ("dev", {"repository": REPO, "tag": A}),
    ("prod", LIVE["prod"]),
    ("dev", {"repository": REPO, "tag": B}),
    ("dev", LIVE["dev"]),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    project = make_project(tmp_path_factory.mktemp("fuzz") / "project")
    for env, image in HISTORY:
        (project.path / f"gitops/{env}/values.yaml").write_text(dump({"image": image}, "block"))
        project.commit(f"deploy({env}): {image['tag']}")
    main = project.head()
    project.write("gitops/prod/hold.yaml", HOLD)
    held = project.commit("hold(prod)")
    return Repo(project.path, {"main": main, "held": held})


def test_the_history_is_what_the_oracle_assumes(repo):
    for name, commit in repo.targets.items():
        violations, _ = collect(Checkout(repo.path), commit, commit, verify_image=False)
        assert violations == [], name
    text = (repo.path / "gitops/dev/values.yaml").read_text()
    assert C in text
    assert D1 in text


@pytest.mark.long
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mr=merge_requests)
def test_check_passes_exactly_what_the_rule_allows(repo, mr):
    head = repo.merge_request(mr)
    target = repo.targets[mr.target]
    violations, _ = collect(Checkout(repo.path), target, head, verify_image=False)
    lines = [violation.line() for violation in violations]
    allowed = oracle(mr)
    event("allowed" if allowed else "refused")
    assert (not violations) == allowed, lines
