#!/usr/bin/env bash
# Runs once inside the new conda environment, from the directory snakemake was started in (the repository
# root): install limitlab from this checkout (editable: code changes need no rebuild of the environment).
set -euo pipefail
python -m pip install --no-deps --editable .
