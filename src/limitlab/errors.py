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
