"""``ci.wait.loop``: the poll loop's timing, on a fake clock (it looks one last time at the
deadline, never after); a write-back that did not land on the branch is not waited for."""

from ci.deadline import Deadline
from ci.wait.argocd import Unreachable
from ci.wait.loop import EXIT_FAILED, Settings, poll
from tests.ci.wait.fake_argocd import APP


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class UnreachableArgoCD:
    def __init__(self, time: FakeTime) -> None:
        self.time, self.asked_at = time, []

    def application(self, name: str, timeout: float, refresh: bool = False) -> dict:
        self.asked_at.append(self.time.now)
        raise Unreachable("Argo CD at http://127.0.0.1:9 is unreachable (refused)")


class Lineage:
    def describe(self) -> str:
        return "registry.example/app:v1 at 0123456789ab"


def test_an_unreachable_server_is_asked_until_the_deadline_and_once_at_it(capsys):
    time = FakeTime()
    argocd = UnreachableArgoCD(time)
    settings = Settings(argocd, "app-dev", timeout=3.0, interval=2.0)  # type: ignore[arg-type]

    deadline = Deadline(settings.timeout, time.clock)
    code = poll(settings, Lineage(), lambda line: None, deadline, time.sleep)  # type: ignore[arg-type]

    assert code == EXIT_FAILED
    assert argocd.asked_at == [100.0, 102.0, 103.0]
    assert time.sleeps == [2.0, 1.0]
    assert "timed out after 3s waiting for app-dev" in capsys.readouterr().err


def test_a_change_sent_as_a_merge_request_is_not_waited_for(capsys):
    from ci.gitops.writeback import Outcome, Target
    from ci.wait.argocd import ArgoCD
    from ci.wait.loop import Settings, WaitPlan, wait_after_write

    plan = WaitPlan(Settings(ArgoCD("http://127.0.0.1:1"), APP, 1, 1))
    outcome = Outcome("merge-request", "opened", commit="f" * 40)
    assert wait_after_write(plan, Target("file:///nowhere", "main"), "dev", outcome) == 0
    assert capsys.readouterr().out == (
        "not waiting: the change is not on the branch yet (merge-request)\n"
    )
