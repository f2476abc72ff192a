#!/usr/bin/env bash
# Runs once inside the new conda environment (Snakemake runs it from the working directory, which is the user's
# folder when limitlab's workflow is a module of another repository): installs limitlab itself, from where Snakemake
# read the workflow. workflow/rules/package.smk puts that in LIMITLAB_PIP_SOURCE: the checkout's folder (installed
# editable, so code changes need no rebuild of the environment), or git+https://HOST/OWNER/REPO@REF for a workflow
# read from GitHub or GitLab. Set LIMITLAB_PIP_SOURCE yourself to install another limitlab (a wheel, a release).
set -euo pipefail
source="${LIMITLAB_PIP_SOURCE:-}"
if [ -z "$source" ]; then
    echo "limitlab: LIMITLAB_PIP_SOURCE is empty: Snakemake read the workflow from a place pip cannot install" \
         "limitlab from; set LIMITLAB_PIP_SOURCE to a limitlab checkout, wheel or git URL, then run snakemake" \
         "again" >&2
    exit 1
fi
if [ -d "$source" ]; then
    python -m pip install --no-deps --editable "$source"
else
    python -m pip install --no-deps "$source"
fi
