"""A run job ends with the shell that started it.

Snakemake starts ``limitlab run`` under a job shell (workflow/rules/run.smk); if that shell is killed, the job
must not train on as an orphan beside the next job of the same runs. :func:`end_with_parent` asks Linux for
SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``), with a watcher thread where that is not available;
the command line turns SIGTERM into :class:`~limitlab.errors.Terminated`, which marks the run in progress
interrupted (143) so that the next job resumes it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_AT_START = os.getppid()  # read when the command line imports its stages, as early as limitlab can
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` when the parent process dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int, interval: float = 1.0) -> threading.Thread:
    """A daemon thread that sends this process SIGTERM once ``parent`` is no longer its parent (it died and the
    process was re-parented): the fallback where the kernel cannot be asked."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="limitlab-parent-watch", daemon=True)
    thread.start()
    return thread


def end_with_parent(parent: int = PARENT_AT_START) -> None:
    """SIGTERM to this process when its parent (the job's shell) dies. The command line turns SIGTERM into
    :class:`~limitlab.errors.Terminated`, which marks the run interrupted (143) so the next job resumes it."""
    if not _parent_death_signal(signal.SIGTERM):
        watch_parent(parent)
    elif os.getppid() != parent:  # the parent died before the kernel was asked: nobody would signal now
        os.kill(os.getpid(), signal.SIGTERM)
