"""Test layout: one folder per library family (tests/data, tests/training, ...), plus tests/workflow for the
Snakemake pipeline end to end. The shared helpers (tiny_data.py, pipeline_support.py) live here, importable from
every folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
