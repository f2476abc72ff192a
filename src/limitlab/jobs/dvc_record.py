"""``python -m limitlab.jobs.dvc_record restore``, the command every dvc.yaml stage runs first: now
:mod:`limitlab.pipeline.dvc_record`. This path stays because dvc.lock records each stage's command (a changed one
makes DVC count every stage as changed) and users' dvc.yaml / dvc.lock files of earlier releases name it."""

from limitlab.pipeline.dvc_record import *  # noqa: F401,F403 - the old path re-exports the new module, nothing else

if __name__ == "__main__":
    raise SystemExit(main())  # noqa: F405 - main of limitlab.pipeline.dvc_record
