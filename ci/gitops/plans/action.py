"""The write-back's actions and the outcomes it reports (no imports: every layer may use them)."""

from enum import StrEnum


class Action(StrEnum):
    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    HOLD = "hold"
    UNHOLD = "unhold"
    RECORD = "record"  # a verification's verdict (a failed one also rejects and rolls back)
    REJECT = "reject"
    UNREJECT = "unreject"


class Override(StrEnum):
    """What ``--override`` lets a deploy or promote go past (with ``--reason``, in a trailer)."""

    EVIDENCE = "evidence"  # promote: no passed verification, or the soak not over
    FREEZE = "freeze"  # deploy, promote: a freeze window


class Status(StrEnum):
    """How a write-back ended (a plan that commits nothing says ``UNCHANGED`` or ``STALE``)."""

    PUSHED = "pushed"
    UNCHANGED = "unchanged"
    STALE = "stale"  # deploy: the live build is newer (nothing to do without --force)
    DRY_RUN = "dry-run"
    MERGE_REQUEST = "merge-request"
