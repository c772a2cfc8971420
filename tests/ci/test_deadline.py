"""``ci.deadline``: durations and the deadline a command keeps (pure, on numbers and a clock)."""

import pytest

from ci.deadline import Deadline, seconds
from ci.errors import UsageError


@pytest.mark.parametrize(
    "text", ["0", "-1", "nan", "NaN", "inf", "-inf", "1e400", "604801", "", "soon"]
)
def test_a_duration_is_finite_positive_and_at_most_a_week(text):
    with pytest.raises(UsageError) as raised:
        seconds(text, "--timeout")
    assert str(raised.value) == (
        f"--timeout must be a positive number of seconds, got {text!r} (finite, at most 604800:"
        " a week)"
    )
    assert raised.value.exit_code == 2


def test_durations_that_are_fine():
    assert seconds("0.1", "x") == 0.1
    assert seconds(" 600 ", "x") == 600.0
    assert seconds("604800", "x") == 604800.0


def test_a_deadline_caps_each_step():
    now = [10.0]
    deadline = Deadline(5.0, lambda: now[0])
    assert deadline.cap(10.0, floor=0.5) == 5.0
    now[0] = 14.0
    assert (deadline.cap(10.0, floor=0.5), deadline.elapsed()) == (1.0, 4.0)
    now[0] = 16.0
    assert (deadline.cap(10.0, floor=0.5), deadline.remaining()) == (0.5, -1.0)
