"""The one figure index: the table of figure families (:data:`FAMILIES`: figure kind → report category and
caption) and the driver that draws every figure of an experiment into ``results_dir/figures/`` (PNG and PDF) and
lists them in ``figures/index.json``.

=====================================  ==========================================================================
file (in ``results_dir/figures/``)     kind, drawn by
=====================================  ==========================================================================
``fano``                               ``fano`` (:mod:`.fano`)
``curves_<setting>``                   ``curves`` (:mod:`.curves`)
``limit_beta_<setting>``               ``limit_beta`` (:mod:`.limit_beta`)
``beta_curve_<setting>``               ``beta_curve`` (:mod:`.beta_curve`)
``gradient_histograms_<setting>``      ``gradient_histograms`` (:mod:`.q_network`)
``confusing_<setting>``                ``confusing`` (:mod:`.q_network`)
``accuracy_vs_noise``                  ``accuracy_vs_noise`` (:mod:`.accuracy_vs_noise`)
``detection``                          ``detection`` (:mod:`.detection`)
``paired_differences``                 ``paired_differences`` (:mod:`.paired`)
``selection_reliability_<setting>``    ``selection_reliability`` (:mod:`.selection_reliability`)
``noise_matrices_<setting>``           ``noise_matrices`` (:mod:`.noise_matrices`)
``validation_size_<setting>``          ``validation_size`` (:mod:`.validation_size`; ``<setting>`` without its
                                       validation size)
``susceptibility_<setting>``           ``susceptibility`` (:mod:`.susceptibility`; runs trained with
                                       ``training.susceptibility: true``)
=====================================  ==========================================================================

What each kind shows is its caption in :data:`FAMILIES` (the report shows it too). ``<setting>`` is the cell key
(:func:`limitlab.experiment.paths.cell_key`) with '/' → '_' (e.g. ``mnist5k_uniform_p80_nall``). Settings without
the data a figure needs are skipped with a message; everything written (and skipped) is listed in
``figures/index.json``. Figures are independent: with ``jobs`` > 1 they are drawn in forked worker processes.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from limitlab import io
from limitlab.experiment.paths import ResultFiles, RunFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.cells import Cell, build_cells
from limitlab.report.figures.accuracy_vs_noise import accuracy_vs_noise_figure
from limitlab.report.figures.beta_curve import beta_curve_figure
from limitlab.report.figures.curves import curves_figure
from limitlab.report.figures.detection import detection_figure
from limitlab.report.figures.fano import FANO_RATES, fano_figure
from limitlab.report.figures.limit_beta import limit_beta_figure
from limitlab.report.figures.noise_matrices import model_matrix, noise_matrices_figure
from limitlab.report.figures.paired import paired_figure
from limitlab.report.figures.q_network import confusing_figure, gradient_histograms_figure, pick_q_run
from limitlab.report.figures.selection_reliability import selection_reliability_figure
from limitlab.report.figures.susceptibility import susceptibility_figure
from limitlab.report.figures.validation_size import sweeps, validation_size_figure
from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK, TARGET
from limitlab.report.figures.style import method_colors
from limitlab.report.metrics import cleanlab_results
from limitlab.report.tables import read_optional_csv


# ---------------------------------------------------------------------------------------------------------------
# The figure families
# ---------------------------------------------------------------------------------------------------------------

# figure kind (figures/index.json) -> (report category, what the figure shows)
FAMILIES: dict[str, tuple[str, str]] = {
    "curves": ("Learning curves (Fig. 1-2)",
               "Per epoch, accuracy on the noisy training labels, on the clean training labels and on the clean test "
               "set, for the selected hyperparameter point of every method (seed mean; thick: Gaussian-smoothed with "
               "σ = 2 epochs, thin: raw). The dashed line is the fraction of correct labels, 1 − p."),
    "limit_beta": ("LIMIT at each beta (Fig. A1)",
                   "LIMIT's training accuracy on the noisy labels and clean test accuracy at every β of the grid "
                   "(other hyperparameters at the selected point): a larger β lets less label information into "
                   "the weights."),
    "beta_curve": ("LIMIT over its beta grid",
                   "Clean test accuracy of each LIMIT method at every β of its grid (per β the point with the best "
                   "noisy-validation accuracy; mean ± std over seeds at each seed's best-validation epoch), the "
                   "oracle at that β (dashed: best clean-test epoch, an upper bound selected on the test set, not "
                   "a result), the β the paper's rule selected (ring) and CE of the same setting (grey band)."),
    "gradient_histograms": ("Gradient predictor (Fig. A2-A3)",
                            "Histograms of the predicted-gradient norm ‖s(a) − s(b)‖₂ and of the distance "
                            "‖s(b) − e_ỹ‖₂ between the q-network's prediction and the given label, for correct vs "
                            "corrupted training labels; the title gives the ROC AUC of the distance."),
    "confusing": ("Most suspicious labels (Fig. 3)",
                  "The training images whose given label the q-network finds least plausible, ranked by "
                  "‖s(b) − e_given‖₂; a red title marks a label known to be corrupted."),
    "accuracy_vs_noise": ("Accuracy vs noise rate",
                          "Clean test accuracy of the selected point of every method against the noise rate, "
                          "with the table's error bars."),
    "detection": ("Noisy-label detection",
                  "ROC AUC, average precision and the precision when flagging as many examples as there are "
                  "corrupted labels, for finding the corrupted training labels: LIMIT's distance ‖s(b) − e_ỹ‖₂ "
                  "beside cleanlab's 1 − self-confidence of out-of-sample probabilities from K-fold "
                  "cross-validated CE models and the trivial detector, CE's own loss on its training labels."),
    "paired_differences": ("Paired differences",
                           "Per setting, every method's clean test accuracy minus the reference's (CE unless the "
                           "params say otherwise) on the same splits, at the selected points: mean and 95 % "
                           "interval (two-level bootstrap over splits and test sets); the number at the right is "
                           "how many splits the method was higher on. A hollow marker: the interval rests on one "
                           "seed."),
    "selection_reliability": ("Selection reliability",
                              "Per cell, how often the paper's rule picks each grid point when each split's noisy "
                              "validation set is resampled (bars; outlined: its pick on the full set), beside every "
                              "point's clean test accuracy at its best-validation checkpoints, the test-best point "
                              "(star) and the band within 1 test point of it. The title gives the probability of "
                              f"a pick in that band (the selection reliability; {COIN_TOSS_MARK} = below "
                              f"{COIN_TOSS_BELOW:g}, a coin toss) and the noisy validation labels per split a "
                              f"{TARGET:.0%} chance would need."),
    "validation_size": ("Validation size",
                        "For a study that sweeps the number of noisy validation labels (the settings differ only in "
                        "their validation sets): per method, the clean test accuracy of the paper's rule and the "
                        "oracle (dashed, an upper bound selected on the test set), the selection cost (oracle − "
                        "paper's rule) and the selection reliability against the validation size."),
    "noise_matrices": ("Noise matrices",
                       "The noise matrix P(given label | true class) as heatmaps: the noise model's (uniform and "
                       "pair noise), the one realised in this training split, and cleanlab's estimate; the numbers "
                       "are in detection.csv."),
    "fano": ("Fano bound (Fig. A0)",
             "Theorem 1: lower bound on the training error rate against the label information per example, "
             "I(w; y | x)/n in bits, for K = 10 classes and uniform noise."),
    "susceptibility": ("Susceptibility (Forouzesh et al. 2023)",
                       "Final-epoch training accuracy on the noisy labels against susceptibility ζ to random labels; "
                       "Region 1 (high accuracy, low ζ) holds the models the susceptibility selection may pick."),
}


def family_name(kind: str) -> str:
    """The report category of a figure kind (an unknown kind gets its own, from its name)."""
    return FAMILIES.get(kind, (kind.replace("_", " ").capitalize(), ""))[0]


def captions() -> dict[str, str]:
    """Report category -> what its figures show (workflow/rules/report.smk passes it to workflow/report/figure.rst)."""
    return {name: about for name, about in FAMILIES.values()}


# ---------------------------------------------------------------------------------------------------------------
# Drawing and the index
# ---------------------------------------------------------------------------------------------------------------


def save_figure(fig, out_dir: Path, name: str) -> dict[str, str]:
    """Write NAME.png and NAME.pdf atomically (PDF without a creation date, so identical inputs give identical files)."""
    import matplotlib.pyplot as plt

    paths = {}
    for fmt in ("png", "pdf"):
        path = out_dir / f"{name}.{fmt}"
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight",
                        metadata={"CreationDate": None} if fmt == "pdf" else {"Software": None})
        paths[fmt] = path.name
    plt.close(fig)
    return paths


_TASKS: list = []  # (name, kind, make, setting, info) of make_figures, read by forked workers (_draw)


def _draw(i: int, out_dir: Path, messages: list[str]) -> tuple[str, Any, list[str]]:
    """Draw and save figure task i: ('ok', file names) | ('none', why) | ('failed', repr, traceback); + messages."""
    name, kind, make, setting, info = _TASKS[i]
    start = len(messages)
    try:
        fig = make()
        if fig is None:
            return "none", info.get("why", "no data"), messages[start:]
        return "ok", save_figure(fig, out_dir, name), messages[start:]
    except Exception as exc:  # one broken figure must not cost the others; the command still fails at the end
        import traceback

        return "failed", (repr(exc), traceback.format_exc()), messages[start:]


def _draw_all(out_dir: Path, messages: list[str], jobs: int) -> list:
    """Every task of _TASKS, in order; with jobs > 1 in forked worker processes (figures are independent, and
    saving PNG + PDF is most of the time), which inherit the tasks, so nothing needs pickling but the results."""
    if jobs <= 1 or len(_TASKS) < 2:
        return [_draw(i, out_dir, messages) for i in range(len(_TASKS))]
    import functools
    import multiprocessing

    # close() + join(), not the context manager: Pool.__exit__ terminates the idle workers with SIGTERM, and a
    # worker that inherited the command line's SIGTERM handler was seen to stay blocked on the task queue's lock
    # (a plot job that never ended); closed workers read the end-of-work marker and exit on their own.
    pool = multiprocessing.get_context("fork").Pool(min(jobs, len(_TASKS)))
    try:
        results = pool.map(functools.partial(_draw, out_dir=out_dir, messages=messages), range(len(_TASKS)),
                           chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


def not_aggregated(results_dir: Path, name: str, exp: Experiment) -> str:
    return (f"{results_dir / name} is missing or unreadable: run `limitlab aggregate --params <params file of "
            f"{exp.name}>` first (the pipeline's plot job runs after it)")


def make_figures(exp: Experiment, results_dir: Path | None = None, console=None, jobs: int = 1) -> dict:
    """Draw every figure the experiment's finished runs allow (``jobs`` at a time); return (and write) the index."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console(width=None if sys.stdout.isatty() else 200)
    results_dir = Path(results_dir or exp.results_path)
    out_dir = results_dir / ResultFiles.FIGURES
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = build_cells(exp)
    colors = method_colors(cells)
    messages: list[str] = []
    figures: list[dict] = []
    skipped: list[dict] = []
    _TASKS.clear()

    def emit(name: str, kind: str, make, setting: str | None = None, **info) -> None:
        assert kind in FAMILIES, f"figure kind {kind!r} has no report category in FAMILIES"
        _TASKS.append((name, kind, make, setting, info))

    emit("fano", "fano", fano_figure, K=10, p=list(FANO_RATES))
    by_setting: dict[str, list[Cell]] = defaultdict(list)
    for c in cells:
        by_setting[c.key].append(c)
    for key, group in by_setting.items():  # the lambdas run later (_draw_all): bind the loop's values now
        tag = group[0].file_tag
        emit(f"curves_{tag}", "curves", lambda group=group: curves_figure(group, colors, messages), key,
             why="no finished run with a history in this setting")
        emit(f"limit_beta_{tag}", "limit_beta", lambda group=group: limit_beta_figure(group, messages), key,
             why="no LIMIT method with two or more finished β values in this setting")
        emit(f"beta_curve_{tag}", "beta_curve", lambda group=group: beta_curve_figure(group, colors, messages), key,
             why="no LIMIT method with two or more finished β values in this setting")
        picked = pick_q_run(group)
        if picked is None:
            for kind in ("gradient_histograms", "confusing"):
                emit(f"{kind}_{tag}", kind, lambda: None, key,
                     why=f"no evaluated q-network run ({RunFiles.TRAIN_SCORES}) in this setting")
            continue
        cell, rec = picked
        src = {"run": rec.run.key, "method_id": cell.method_id, "point": cell.selected.tag}
        emit(f"gradient_histograms_{tag}", "gradient_histograms", lambda cell=cell, rec=rec: gradient_histograms_figure(cell, rec),
             key, **src)
        emit(f"confusing_{tag}", "confusing", lambda cell=cell, rec=rec: confusing_figure(cell, rec), key, **src)
    for key, group in by_setting.items():  # settings whose runs track susceptibility (training.susceptibility)
        if any(r.run.spec.training.susceptibility for c in group for pt in c.points for r in pt.records):
            emit(f"susceptibility_{group[0].file_tag}", "susceptibility",
                 lambda group=group: susceptibility_figure(group, colors), key,
                 why="no finished run of this setting with susceptibility in its history")
    emit("accuracy_vs_noise", "accuracy_vs_noise", lambda: accuracy_vs_noise_figure(cells, colors),
         why="no finished cell")
    # detection and paired differences: drawn from the files `limitlab aggregate` wrote (the plot job runs after
    # it), so each figure shows the very numbers of detection.csv / paired.csv and the tables
    detection = read_optional_csv(results_dir / ResultFiles.DETECTION)
    emit("detection", "detection", lambda: None if detection is None else detection_figure(detection),
         why=(not_aggregated(results_dir, ResultFiles.DETECTION, exp) if detection is None
              else "no detection scores (no evaluated q-network run and no cleanlab result)"))
    paired = read_optional_csv(results_dir / ResultFiles.PAIRED)
    emit("paired_differences", "paired_differences",
         lambda: None if paired is None else paired_figure(paired, colors),
         why=(not_aggregated(results_dir, ResultFiles.PAIRED, exp) if paired is None
              else "no setting with the reference method and another"))

    table, selection = read_optional_csv(results_dir / ResultFiles.TABLE), read_optional_csv(results_dir / ResultFiles.SELECTION)
    for key, group in by_setting.items():  # from the files aggregate wrote: the very numbers of the tables
        emit(f"selection_reliability_{group[0].file_tag}", "selection_reliability",
             lambda key=key: None if table is None or selection is None
             else selection_reliability_figure(table, selection, key, colors), key,
             why=(not_aggregated(results_dir, ResultFiles.TABLE, exp) if table is None or selection is None
                  else "no cell with a selection reliability over two or more points (it needs the runs' "
                       f"{RunFiles.VAL_PREDICTIONS})"))

    for key, group in ({} if table is None else sweeps(table)).items():
        emit(f"validation_size_{key.replace('/', '_')}", "validation_size",
             lambda group=group: validation_size_figure(group, colors), key)

    cleanlab = cleanlab_results(exp, messages)  # the noise matrices

    for row in cleanlab:
        cell = next((c for c in cells if c.key == row["setting"]), None)
        model = None if cell is None else model_matrix(cell.noise_model, cell.p, cell.dataset,
                                                       len(row["noise_matrix_true"]))
        emit(f"noise_matrices_{row['setting'].replace('/', '_')}", "noise_matrices",
             lambda row=row, model=model: noise_matrices_figure(row, model), row["setting"])

    for (name, kind, _, setting, info), (status, out, said) in zip(_TASKS, _draw_all(out_dir, messages, jobs)):
        messages.extend(m for m in said if m not in messages)
        if status == "failed":
            print(out[1], file=sys.stderr, end="")
            skipped.append({"name": name, "kind": kind, "setting": setting, "reason": f"failed: {out[0]}"})
        elif status == "none":
            skipped.append({"name": name, "kind": kind, "setting": setting, "reason": out})
        else:
            figures.append({"name": name, "kind": kind, "setting": setting, **out,
                            **{k: v for k, v in info.items() if k != "why"}})
    _TASKS.clear()
    _remove_stale(out_dir, {f[fmt] for f in figures for fmt in ("png", "pdf")})
    (out_dir / "susceptibility_index.json").unlink(missing_ok=True)  # the second index of releases before this one
    index = {"experiment": exp.name, "figures": figures, "skipped": skipped}
    io.write_json(results_dir / ResultFiles.FIGURE_INDEX, index)
    for s in skipped:
        color = "red" if s["reason"].startswith("failed") else "yellow"
        console.print(f"[{color}]skipped[/] {escape(s['name'])}: {escape(s['reason'])}", highlight=False)
    for m in dict.fromkeys(messages):
        console.print(f"[yellow]warning:[/] {escape(m)}", highlight=False)
    console.print(f"wrote {len(figures)} figure(s) (PNG + PDF) to {out_dir}; list in {out_dir / 'index.json'}",
                  highlight=False)
    return index


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Delete figures a previous run listed in index.json that this run did not draw (e.g. a removed setting)."""
    old = out_dir / Path(ResultFiles.FIGURE_INDEX).name
    try:
        previous = json.loads(old.read_text())["figures"] if old.is_file() else []
    except (json.JSONDecodeError, KeyError, TypeError):
        return
    for f in previous:
        for fmt in ("png", "pdf"):
            name = f.get(fmt) if isinstance(f, dict) else None
            if name and name not in keep and "/" not in name:
                (out_dir / name).unlink(missing_ok=True)
