"""User-facing errors.

Every error a user can cause by bad input is a :class:`LimitlabError`: the command line prints its message
(without a traceback) and exits with status 2. The message names the file, field or value at fault and what
would be accepted.
"""


class LimitlabError(Exception):
    """An error caused by the user's input or environment, with a message meant for them."""


class Terminated(BaseException):
    """SIGTERM (preemption, scancel, a time limit), raised by the command line's signal handler so that temporary
    files are cleaned up on the way out. Defined here, not in limitlab.cli, so that ``python -m limitlab.cli``
    (which runs that module as __main__) and the code that catches it share one class."""


class DivergedError(LimitlabError):
    """Training produced a non-finite loss; nothing was checkpointed from the bad step."""


class InputRefused(LimitlabError):
    """A run's input (dataset file, labels file) is damaged or no longer the one its record names, so the run is
    not started. Not a failure of the run: restoring or regenerating the input lets the next plain run go on.
    ``cause`` groups refusals in the pipeline's summary and ``fix`` says what works."""

    def __init__(self, message: str, *, cause: str, fix: str):
        super().__init__(f"{message}; {fix}")
        self.cause = cause
        self.fix = fix


class ResourceExhausted(LimitlabError):
    """The machine ran out of a resource (disk space, quota): an interruption, not a failure of the run."""
