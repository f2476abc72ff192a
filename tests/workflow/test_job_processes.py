"""A job process ends with the shell that started it: `limitlab run` under a shell like run.smk's, the shell
killed with SIGKILL. Without this the run trained on, orphaned, beside the job that reran it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from limitlab.experiment import failure_markers as markers
from pipeline_support import env

import tiny_data

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def ended(pid: int) -> bool:
    """Gone, or a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def kill_shell_and_wait_for_child(shell: subprocess.Popen, started, timeout: float = 300) -> bool:
    """Once ``started()``, SIGKILL the shell (not its child); whether the child ended within 10 s. A child still
    running then is killed, so no test leaves an orphan."""
    deadline = time.monotonic() + timeout
    while not started():
        assert shell.poll() is None and time.monotonic() < deadline, "the job ended before it started its run"
        time.sleep(0.05)
    (child,) = children(shell.pid)
    shell.kill()
    shell.wait()
    deadline = time.monotonic() + 10
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended(child):
        return True
    os.kill(child, signal.SIGKILL)
    return False


def test_limitlab_run_ends_with_its_killed_job_shell_and_marks_the_run_interrupted(tmp_path):
    study = {"id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
             # epochs: far more than the kill takes to reach the run (the parent-death watcher polls), so the run
             # cannot finish first and remove its marker on a fast machine
             "seeds": [1], "training": {**tiny_data.TRAINING, "epochs": 2000}, "methods": [{"method": "ce"}]}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"name": "t", "data_dir": str(tmp_path / "data"), "studies": [study]}))
    tiny_data.prepare(tmp_path / "data", P.load(params))
    (spec,) = [r.spec for r in runs_of(P.load(params))]
    job = shlex.join(["limitlab", "run", "--params", str(params), "--job", "n1-00000", "--logs",
                      str(tmp_path / "logs"), "--out", str(tmp_path / "jobs" / "n1-00000.json")])
    # run.smk's shell: limitlab is a child of bash, which waits to pass on its status
    shell = subprocess.Popen(["bash", "-c", f"{job} > {tmp_path / 'job.log'} 2>&1 && rc=0 || rc=$?; exit $rc"],
                             env=env(), start_new_session=True)
    assert kill_shell_and_wait_for_child(shell, lambda: markers.has_marker(spec.run_dir, "interrupted")), \
        "limitlab run went on training after its job shell was killed"
    marker = markers.read_marker(spec.run_dir)
    assert marker.kind == "interrupted" and marker.exit_status == 143, marker  # SIGTERM: it resumes
    assert "terminated (SIGTERM)" in (tmp_path / "job.log").read_text()


def test_the_fallback_watcher_ends_the_process_with_its_parent(tmp_path):
    """Where the kernel cannot be asked (not Linux, prctl refused): a thread that watches the parent."""
    ready = tmp_path / "ready"
    stand_in = textwrap.dedent(f"""
        import os, signal, sys, time
        from limitlab.pipeline.parent_death import watch_parent
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        watch_parent(os.getppid(), interval=0.1)
        open({str(ready)!r}, "w").close()
        time.sleep(120)
    """)
    shell = subprocess.Popen(["bash", "-c", f"{shlex.quote(sys.executable)} -c {shlex.quote(stand_in)} && rc=0 "
                              "|| rc=$?; exit $rc"], env=env(), start_new_session=True)
    assert kill_shell_and_wait_for_child(shell, ready.exists)
