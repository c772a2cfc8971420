"""The build command's tests share ``tests/ci/test_build.py``'s environment (GitLab's variables,
ECR's settings), here named ``build_env``."""

from tests.ci.test_build import env as build_env  # noqa: F401  (a fixture)
