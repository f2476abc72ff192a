"""`limitlab examples`: a run's training examples, the most suspicious labels first, for any method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from limitlab import io
from limitlab.cli import main
from limitlab.experiment import params_file
from limitlab.experiment.grid import GridIndex
from limitlab.experiment.paths import RunFiles
from limitlab.jobs.done_record import spec_sha256, write_done


def grid_of(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "name": "p", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "studies": {"s": {"dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [300],
                          "seeds": [42], "methods": {"ce": {"label": "CE"},
                                                     "limit": {"method": "limit", "q_dist": "laplace", "beta": 1.0}}}}}))
    return path, GridIndex.of(params_file.load(path))


def test_examples_are_ranked_by_the_runs_own_score_with_clean_labels_where_known(tmp_path, capsys):
    path, grid = grid_of(tmp_path)
    ce, limit = (next(s for s in grid.specs if s.method_id == m) for m in ("ce", "limit"))
    index = np.array([7, 3, 9, 1])
    io.save_npz(ce.labels_path, make_parents=True, train_index=index, train_noisy=np.array([0, 1, 2, 3]),
                train_clean=np.array([0, 2, 2, 3]), val_index=np.array([5]), val_noisy=np.array([1]),
                val_clean=np.array([1]))
    # the evaluation files list the examples in their own order
    io.save_npz(ce.eval_dir / RunFiles.TRAIN_LOSS, make_parents=True, train_index=index[::-1],
                loss=np.array([0.1, 0.5, 2.0, 0.3]))          # per 1, 9, 3, 7
    io.save_npz(limit.eval_dir / RunFiles.TRAIN_SCORES, make_parents=True, train_index=index,
                distance=np.array([0.2, 1.3, 0.2, 0.9]))     # per 7, 3, 9, 1
    for spec in (ce, limit):
        spec.run_dir.mkdir(parents=True)
        write_done(spec, spec_sha256(spec, grid), train=True, evaluate=True)
    out = tmp_path / "ce.csv"
    assert main(["examples", "--params", str(path), "--run", ce.key, "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame.train_index.tolist() == [3, 9, 7, 1] and frame["rank"].tolist() == [1, 2, 3, 4]
    assert frame.ce_loss.tolist() == [2.0, 0.5, 0.3, 0.1] and frame.is_corrupted.tolist() == [1, 0, 0, 0]
    assert "sorted by ce_loss" in capsys.readouterr().out
    assert main(["examples", "--params", str(path), "--run", limit.key, "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame.train_index.tolist() == [3, 1, 7, 9] and frame.given_label.tolist() == [1, 3, 0, 2]


def test_a_run_not_evaluated_or_not_in_the_grid_is_refused(tmp_path, capsys):
    path, grid = grid_of(tmp_path)
    assert main(["examples", "--params", str(path), "--run", "nosuch", "--out", str(tmp_path / "x.csv")]) == 2
    assert "has no run 'nosuch'" in capsys.readouterr().err
    assert main(["examples", "--params", str(path), "--run", grid.specs[0].key, "--out", str(tmp_path / "x.csv")]) == 2
    assert "has not finished its evaluation" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
