"""The per-stage timing table built from Snakemake benchmark files (limitlab timing)."""

from __future__ import annotations

import json

from limitlab.cli import main
from limitlab.pipeline.stage_timing import write_timing

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(path, seconds, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_table_per_stage_and_training_loop_share(tmp_path):
    b = tmp_path / "benchmarks"
    bench(b / "train/study/a/ce/default.tsv", 4.0, 300.5, 3.0)
    bench(b / "train/study/b/ce/default.tsv", 8.0, 500.0, 7.0)
    bench(b / "train/study/c/ce/default.tsv", 6.0, 100.0, 5.0)
    bench(b / "bootstrap/study/a/ce/default.tsv", 0.5, 80.0, 0.4)
    runs = []
    for name, loop in (("a", 2.0), ("b", 5.0)):  # c has no result.json (nor timing.json) yet
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({"test_acc": 0.5}))
        (run / "timing.json").write_text(json.dumps({"train_time_s": loop, "epoch_time_s": [loop]}))
        runs.append(run)
    runs.append(tmp_path / "runs" / "c")
    table = write_timing(b, runs, tmp_path / "out").set_index("stage")  # benchmark files of per-run train jobs
    assert table.loc["train", "jobs"] == 3 and table.loc["bootstrap", "jobs"] == 1
    assert table.loc["train", "wall_total_s"] == 18.0 and table.loc["train", "wall_median_s"] == 6.0
    assert table.loc["train", "cpu_total_s"] == 15.0 and table.loc["train", "peak_rss_mb"] == 500.0
    md = (tmp_path / "out" / "timing.md").read_text()
    assert "| train | 3 | 18.0 | 6.0 | 15.0 | 500.0 |" in md
    assert "train_time_s of 2 runs): 7.0 s; train jobs' wall time: 18.0 s (39 % in the loop)" in md
    assert (tmp_path / "out" / "timing.csv").read_text().splitlines()[0] == \
        "stage,jobs,wall_total_s,wall_median_s,cpu_total_s,peak_rss_mb"


def test_run_jobs_and_their_runs_stages(tmp_path):
    """Run jobs (several runs each): one row for the jobs from their benchmark files, one row per stage of the runs
    from stage_timing.json (one entry per run that ran the stage), and the loop share against the run jobs."""
    b = tmp_path / "benchmarks"
    bench(b / "run/n2-00000.tsv", 20.0, 900.0, 18.0)
    bench(b / "run/n2-00001.tsv", 10.0, 700.0, 9.0)
    runs, evals = [], []
    for name, loop, stages in (("a", 6.0, {"train": 7.0, "evaluate": 1.0, "bootstrap": 0.5}),
                               ("b", 4.0, {"train": 5.0, "evaluate": 2.0, "bootstrap": 0.25}),
                               ("c", 3.0, {"bootstrap": 0.25})):  # c: only its bootstrap ran last time
        run, ev = tmp_path / "runs" / name, tmp_path / "eval" / name
        run.mkdir(parents=True)
        ev.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({"test_acc": 0.5}))
        (run / "timing.json").write_text(json.dumps({"train_time_s": loop}))
        (ev / "stage_timing.json").write_text(json.dumps(stages))
        runs.append(run)
        evals.append(ev)
    (evals[0].parent / "broken").mkdir()
    (evals[0].parent / "broken" / "stage_timing.json").write_text("{not json")
    table = write_timing(b, runs, tmp_path / "out", [*evals, evals[0].parent / "broken"]).set_index("stage")
    assert table.loc["run", "jobs"] == 2 and table.loc["run", "wall_total_s"] == 30.0
    assert table.loc["run: train", "jobs"] == 2 and table.loc["run: train", "wall_total_s"] == 12.0
    assert table.loc["run: bootstrap", "jobs"] == 3 and table.loc["run: bootstrap", "wall_median_s"] == 0.25
    md = (tmp_path / "out" / "timing.md").read_text()
    assert "train_time_s of 3 runs): 13.0 s; run jobs' wall time: 30.0 s (43 % in the loop)" in md


def test_cli_on_a_params_file_without_benchmarks(tmp_path, monkeypatch):
    """Before any job ran: an empty table, not an error."""
    from pipeline_support import REPO

    monkeypatch.chdir(tmp_path)
    assert main(["timing", "--params", str(REPO / "params/smoke.yaml"), "--results-dir", "res"]) == 0
    assert (tmp_path / "res" / "timing.md").is_file() and (tmp_path / "res" / "timing.csv").is_file()
    # its two settings (p = 0.5, 0.8) are named as every table names them (table.csv's 'setting', the cells' keys)
    import pandas as pd

    from limitlab.experiment.params_file import load
    from limitlab.report.cells import build_cells

    by_setting = pd.read_csv(tmp_path / "res" / "timing_rows_by_setting.csv")
    keys = {c.key for c in build_cells(load(REPO / "params/smoke.yaml"))}
    assert set(by_setting["setting"]) == keys and len(keys) == 2 and by_setting["runs"].sum() == 0


def test_what_each_row_cost_in_core_hours(tmp_path):
    """Per row: finished runs, loop hours and core-hours from the threads timing.json records (else the job's
    cores); a run without a timing file is not counted, a row without any keeps its line with 0 runs."""
    from limitlab.pipeline.stage_timing import row_costs

    def run(name, seconds, threads=None):
        d = tmp_path / "runs" / name
        d.mkdir(parents=True)
        if seconds is not None:  # a finished run: result.json follows timing.json
            (d / "result.json").write_text(json.dumps({"test_acc": 0.5}))
            (d / "timing.json").write_text(json.dumps({"train_time_s": seconds, "epoch_time_s": [seconds],
                                                       **({"threads": threads} if threads else {})}))
        return d

    a, b, c, d = run("a", 1800.0, threads=1), run("b", 3600.0), run("c", None), run("d", None)
    costs = row_costs({a: "CE", b: "CE", c: "LIMIT", d: "LIMIT"}, {a: 2, b: 2, c: 2, d: 2})
    assert costs.drop(columns="median_run_s").to_dict("records") == [
        {"row": "CE", "runs": 2, "train_wall_h": 1.5, "core_h": 2.5},  # 0.5 h × 1 thread + 1 h × the job's 2 cores
        {"row": "LIMIT", "runs": 0, "train_wall_h": 0.0, "core_h": 0.0}]
    assert costs["median_run_s"][0] == 2700.0 and costs["median_run_s"].isna()[1]
    write_timing(tmp_path / "benchmarks", [a, b], tmp_path / "out", costs=costs)
    md = (tmp_path / "out" / "timing.md").read_text()
    assert "| CE | 2 | 1.5 | 2700.0 | 2.5 |" in md and "In total 2 runs, 2.50 core-hours" in md
    assert (tmp_path / "out" / "timing_rows.csv").read_text().splitlines()[0] == \
        "row,runs,train_wall_h,median_run_s,core_h"


def test_what_each_row_cost_per_setting(tmp_path):
    """With several data settings, each row's cost per setting (timing_rows_by_setting.csv and a timing.md section
    with each setting's total); with one setting, neither."""
    from limitlab.pipeline.stage_timing import row_costs

    def run(name, seconds):
        d = tmp_path / "runs" / name
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"test_acc": 0.5}))
        (d / "timing.json").write_text(json.dumps({"train_time_s": seconds, "epoch_time_s": [seconds], "threads": 1}))
        return d

    a, b, c, d = run("a", 360.0), run("b", 3600.0), run("c", 720.0), run("d", 7200.0)
    rows = {a: "CE", b: "CE", c: "LIMIT", d: "LIMIT"}
    settings = {a: "mnist/uniform/p80/n1000", b: "mnist/uniform/p0/n1000",
                c: "mnist/uniform/p80/n1000", d: "mnist/uniform/p0/n1000"}
    by_setting = row_costs(rows, {}, settings)
    assert by_setting[["row", "setting", "runs", "core_h"]].to_dict("records") == [
        {"row": "CE", "setting": "mnist/uniform/p80/n1000", "runs": 1, "core_h": 0.1},
        {"row": "CE", "setting": "mnist/uniform/p0/n1000", "runs": 1, "core_h": 1.0},
        {"row": "LIMIT", "setting": "mnist/uniform/p80/n1000", "runs": 1, "core_h": 0.2},
        {"row": "LIMIT", "setting": "mnist/uniform/p0/n1000", "runs": 1, "core_h": 2.0}]
    write_timing(tmp_path / "benchmarks", [a, b, c, d], tmp_path / "out", costs=row_costs(rows, {}),
                 setting_costs=by_setting)
    md = (tmp_path / "out" / "timing.md").read_text()
    assert "| CE | 2 | 1.1 | 1980.0 | 1.1 |" in md  # the per-row totals stay
    assert "| LIMIT | mnist/uniform/p0/n1000 | 1 | 2.0 | 7200.0 | 2.0 |" in md
    assert "Per setting: mnist/uniform/p80/n1000 2 runs, 0.30 core-hours; mnist/uniform/p0/n1000 2 runs, 3.00" in md
    assert (tmp_path / "out" / "timing_rows_by_setting.csv").read_text().splitlines()[0] == \
        "row,setting,runs,train_wall_h,median_run_s,core_h"

    one = tmp_path / "one"
    write_timing(tmp_path / "benchmarks", [a, c], one, costs=row_costs({a: "CE", c: "LIMIT"}, {}),
                 setting_costs=row_costs({a: "CE", c: "LIMIT"}, {}, {a: settings[a], c: settings[c]}))
    assert "per setting" not in (one / "timing.md").read_text()
    assert not (one / "timing_rows_by_setting.csv").exists()
