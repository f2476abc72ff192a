"""User-facing errors.

Every error a user can cause by bad input is a :class:`LimitlabError`: the command line prints its message
(without a traceback) and exits with status 2. The message names the file, field or value at fault and what
would be accepted.
"""


class LimitlabError(Exception):
    """An error caused by the user's input or environment, with a message meant for them."""


class DivergedError(LimitlabError):
    """Training produced a non-finite loss; nothing was checkpointed from the bad step."""
