"""The unit tier's guard (tests/conftest.py): a unit test that starts a program fails, even when
it swallows the error; git and marked tests may."""

import subprocess
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.integration  # its inner tests start `true` under their own guard
def test_a_unit_test_that_starts_a_program_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess.Popen, "_execute_child", subprocess.Popen._execute_child)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(
        "[pytest]\nmarkers =\n    integration: -\n    e2e: -\n    image: -\n"
        "addopts = --strict-markers\n"
    )
    pytester.makepyfile(
        test_tiered="""
        import subprocess
        import pytest

        def test_starts_a_program():
            subprocess.run(["true"], check=True)

        def test_swallows_the_refusal():
            try:
                subprocess.run("true --quietly", shell=True)
            except OSError:
                pass

        def test_runs_git():
            subprocess.run(["git", "--version"], check=True, capture_output=True)

        def test_starts_git_daemon():
            subprocess.run(["git", "daemon", "--help"], capture_output=True)

        @pytest.mark.integration
        def test_marked():
            subprocess.run(["true"], check=True)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*a unit test started 'true': mark it @pytest.mark.integration*",
            "*unit tier: this test started true --quietly; mark it @pytest.mark.integration*",
            "*a unit test started 'git daemon --help'*",
        ]
    )
