"""Test layout: one folder per library family (tests/data, tests/training, ..., tests/pipeline), plus tests/workflow
for the Snakemake pipeline end to end. What several test files share lives in tests/helpers/ (tiny_data.py,
pipeline_support.py, fake_runs.py, smoke_params.py, plugin_support.py), importable from every folder; a test file
never imports another test file, so each runs alone (tests/test_architecture.py checks it)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))
