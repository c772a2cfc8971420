"""Fixtures: a project-shaped source repository and its bare remote (``remote``), and
``python -m ci`` in this process (``ci``), as for the write-back's tests."""

from tests.ci.gitops.conftest import remote  # noqa: F401  (fixtures)
from tests.support.in_process import ci  # noqa: F401
