"""The two kinds of failure a user sees: their own mistake, and a job that failed inside a sweep."""
from __future__ import annotations

from hydra.errors import CompactHydraException


class UserError(ValueError):
    """A mistake in the config or the data: reported as one line, never as a traceback."""


class JobFailed(CompactHydraException):
    """Raised by a sweep job after its run was recorded FAILED; Hydra prints only its message."""


class Terminated(BaseException):
    """SIGTERM turned into an exception, so the job's run can be closed as KILLED."""
