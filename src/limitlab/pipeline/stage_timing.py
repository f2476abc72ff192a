"""Where a pipeline's time went: one row per stage from Snakemake's ``benchmark:`` files.

Each compute rule writes ``logs/<experiment>/benchmarks/<rule>/<job>.tsv`` (columns s, max_rss, cpu_time, ...).
Per rule the table gives the number of jobs, their total and median wall time (s), the total CPU time and the
peak resident memory (max over jobs of max_rss, MB). A `run` job trains, evaluates and bootstraps several runs
(limitlab.jobs.execute); its stages get rows of their own (``run: train`` ...), one "job" per run, from the wall
seconds ``limitlab run`` records per run (eval_dir/stage_timing.json; CPU and memory are per job only). A last
line compares the training loops' own time (sum of ``train_time_s``, run_dir/timing.json) with the run jobs'
wall time: the difference is process start, data loading, evaluation and checkpointing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from limitlab.experiment.paths import ResultFiles, RunFiles

STAGE_TIMES = RunFiles.STAGE_TIMES

COLUMNS = ["stage", "jobs", "wall_total_s", "wall_median_s", "cpu_total_s", "peak_rss_mb"]


def read_benchmarks(bench_dir: Path) -> pd.DataFrame:
    """Every benchmark file under ``bench_dir`` as one row (stage = first folder below it, job = the rest)."""
    rows = []
    for path in sorted(Path(bench_dir).rglob("*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        if frame.empty:
            continue
        row = frame.iloc[-1]  # with --benchmark-repeats the last repeat; one row otherwise
        rel = path.relative_to(bench_dir)
        rows.append({"stage": rel.parts[0], "job": str(rel.with_suffix(""))[len(rel.parts[0]) + 1:],
                     "wall_s": float(row["s"]), "cpu_s": float(pd.to_numeric(row.get("cpu_time"), errors="coerce")),
                     "max_rss_mb": float(pd.to_numeric(row.get("max_rss"), errors="coerce"))})
    return pd.DataFrame(rows, columns=["stage", "job", "wall_s", "cpu_s", "max_rss_mb"])


def stage_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: jobs, total and median wall time, total CPU time, peak resident memory."""
    if jobs.empty:
        return pd.DataFrame(columns=COLUMNS)
    g = jobs.groupby("stage", sort=False)
    table = pd.DataFrame({"jobs": g.size(), "wall_total_s": g["wall_s"].sum(), "wall_median_s": g["wall_s"].median(),
                          "cpu_total_s": g["cpu_s"].sum(min_count=1), "peak_rss_mb": g["max_rss_mb"].max()})
    return table.reset_index()[COLUMNS].round(2)


def loop_time(run_dir: Path) -> tuple[float, int | None] | None:
    """(train_time_s, the threads torch used or None where not recorded) of a finished run's timing.json, which
    ``limitlab train`` writes just before result.json; None for a run not finished or a damaged timing file."""
    timing = Path(run_dir) / RunFiles.TRAIN_TIMES
    if not (timing.is_file() and (Path(run_dir) / RunFiles.RESULT).is_file()):
        return None
    try:
        data = json.loads(timing.read_text())
        seconds = float(data.get("train_time_s", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # a damaged timing file only loses this run's share
    threads = data.get("threads")
    return seconds, threads if isinstance(threads, int) and threads > 0 else None


def training_loop_seconds(run_dirs: list[Path]) -> tuple[int, float]:
    """(finished runs, the sum of their training loops' wall time: train_time_s of timing.json)."""
    times = [t for t in map(loop_time, run_dirs) if t is not None]
    return len(times), sum(seconds for seconds, _ in times)


def row_costs(run_rows: dict[Path, str], cores: dict[Path, int],
              settings: dict[Path, str] | None = None) -> pd.DataFrame:
    """What each row of the table cost: per row label, the finished runs, their training loops' total and median wall
    time (``train_time_s`` of timing.json) and core-hours = Σ train_time_s × threads / 3600, the threads torch used
    as timing.json records them (runs of releases before it: ``cores``, what the params gave the run's job). Rows
    in first-seen order; runs not finished or with a damaged timing file are not counted (:func:`loop_time`).
    Given ``settings`` (run → data setting, e.g. ``mnist5k/uniform/p80/n1000``), one line per row and setting, with
    a ``setting`` column: a study over several noise rates costs very different amounts at each."""
    groups: dict[tuple[str, str | None], list[tuple[float, int]]] = {}
    for run_dir, row in run_rows.items():
        key = (row, settings[run_dir] if settings is not None else None)
        groups.setdefault(key, [])
        timed = loop_time(run_dir)
        if timed is not None:
            seconds, threads = timed
            groups[key].append((seconds, threads or cores.get(run_dir, 1)))
    out = [{"row": row, **({"setting": setting} if settings is not None else {}), "runs": len(v),
            "train_wall_h": round(sum(s for s, _ in v) / 3600, 3),
            "median_run_s": round(float(pd.Series([s for s, _ in v]).median()), 1) if v else float("nan"),
            "core_h": round(sum(s * c for s, c in v) / 3600, 3)} for (row, setting), v in groups.items()]
    columns = ["row", "setting", "runs", "train_wall_h", "median_run_s", "core_h"]
    return pd.DataFrame(out, columns=columns if settings is not None else [c for c in columns if c != "setting"])


def run_stage_rows(eval_dirs: list[Path]) -> pd.DataFrame:
    """One row per (run, stage that ran) from eval_dir/stage_timing.json: stage 'run: train' etc."""
    rows = []
    for eval_dir in eval_dirs:
        path = Path(eval_dir) / STAGE_TIMES
        try:
            times = json.loads(path.read_text()) if path.is_file() else {}
        except ValueError:
            continue  # a damaged file only loses this run's rows
        for stage, seconds in (times.items() if isinstance(times, dict) else ()):
            if isinstance(seconds, (int, float)):
                rows.append({"stage": f"run: {stage}", "job": str(eval_dir), "wall_s": float(seconds),
                             "cpu_s": float("nan"), "max_rss_mb": float("nan")})
    return pd.DataFrame(rows, columns=["stage", "job", "wall_s", "cpu_s", "max_rss_mb"])


def _markdown(frame: pd.DataFrame) -> list[str]:
    cols = list(frame.columns)
    return (["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
            + ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)])


def write_timing(bench_dir: Path, run_dirs: list[Path], out_dir: Path, eval_dirs: list[Path] = (),
                 costs: pd.DataFrame | None = None, setting_costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """timing.csv (the table) and timing.md (the table, the training-loop line and, given ``costs``
    (:func:`row_costs`), what each row of the results table cost, also in timing_rows.csv) in ``out_dir``; given
    ``setting_costs`` (:func:`row_costs` with settings) over more than one setting, also each row's cost per setting,
    in timing_rows_by_setting.csv."""
    jobs = read_benchmarks(bench_dir)
    stages = run_stage_rows(list(eval_dirs))
    table = stage_table(pd.concat([jobs, stages], ignore_index=True) if len(stages) else jobs)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / ResultFiles.TIMING, index=False)
    runs, loop_s = training_loop_seconds(run_dirs)
    job_stage = "run" if (table["stage"] == "run").any() else "train"  # `train`: benchmark files of older runs
    train_wall = float(table.loc[table["stage"] == job_stage, "wall_total_s"].sum())
    lines = [f"# Where the time went (Snakemake benchmark files under {bench_dir})", "", *_markdown(table)]
    lines += ["", f"Training loops (train_time_s of {runs} runs): {loop_s:.1f} s; {job_stage} jobs' wall time: "
              f"{train_wall:.1f} s" + (f" ({100 * loop_s / train_wall:.0f} % in the loop)." if train_wall else "."),
              "Wall times of jobs that ran at the same time add up here: compare totals with the pipeline's "
              "elapsed time divided by the cores it used.", ""]
    if costs is not None and len(costs):
        costs.to_csv(out_dir / ResultFiles.TIMING_ROWS, index=False)
        lines += ["## What each row cost (training loops of its finished runs)", "", *_markdown(costs)]
        lines += ["", f"In total {int(costs['runs'].sum())} runs, {costs['core_h'].sum():.2f} core-hours "
                  "(a loop's wall time × the threads its job gave torch; on a shared machine wall time includes "
                  "waiting for a core).", ""]
    if setting_costs is not None and setting_costs["setting"].nunique() > 1:
        setting_costs.to_csv(out_dir / ResultFiles.TIMING_ROWS_BY_SETTING, index=False)
        per_setting = setting_costs.groupby("setting", sort=False)[["runs", "core_h"]].sum()
        lines += ["## What each row cost per setting", "", *_markdown(setting_costs), "",
                  "Per setting: " + "; ".join(f"{setting} {int(r.runs)} runs, {r.core_h:.2f} core-hours"
                                              for setting, r in per_setting.iterrows()) + ".", ""]
    (out_dir / ResultFiles.TIMING_MD).write_text("\n".join(lines))
    return table
