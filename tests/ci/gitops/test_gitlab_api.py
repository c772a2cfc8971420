"""``ci.gitops.gitlab_api``: how long a rate-limited call waits, from ``Retry-After`` in both of
its forms (RFC 9110 10.2.3), capped. Its calls against the GitLab API stand-in (rate limits, the
deadline, refused tokens) run through ``--merge-request`` in test_merge_request.py."""

from datetime import UTC, datetime

import pytest

from ci.gitops.gitlab_api import rate_limit_wait, retry_after_seconds

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds", "wait"),
    [
        ("7", 7.0, 7.0),
        ("3600", 3600.0, 60.0),  # obeyed, capped
        ("Fri, 27 Nov 2026 10:00:30 GMT", 30.0, 30.0),  # an HTTP-date (IMF-fixdate)
        ("Friday, 27-Nov-26 10:00:30 GMT", 30.0, 30.0),  # the obsolete RFC 850 form
        ("Fri, 27 Nov 2026 09:00:00 GMT", 0.0, 0.0),  # in the past: at once
        ("Sat, 28 Nov 2026 10:00:00 GMT", 86400.0, 60.0),
        ("-5", None, 4.0),  # neither form: the backoff (attempt 2)
        ("soon", None, 4.0),
        (None, None, 4.0),
        ("1e9", None, 4.0),
    ],
)
def test_retry_after_in_both_forms_is_obeyed_and_capped(value, seconds, wait):
    assert retry_after_seconds(value, NOW) == seconds
    assert rate_limit_wait(value, NOW, attempt=2) == wait
