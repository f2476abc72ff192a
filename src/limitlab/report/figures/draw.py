"""Figures of the paper, from the runs of one experiment (methods.md §6.2–6.5). Each is written as PNG and PDF.

==================================  =====================================================================
file (in ``results_dir/figures/``)  content
==================================  =====================================================================
``curves_<setting>``                Figures 1/2: per epoch, accuracy on the noisy training labels, on the clean
                                    training labels and on the clean test set, of every method's selected
                                    point (seed mean; thick = Gaussian-smoothed with σ = 2 epochs as the
                                    authors, thin = raw)
``fano``                            Figure A0: Fano lower bound on the training error vs I(w; y|x)/n (bits),
                                    K = 10, uniform noise p ∈ {0.2, 0.4, 0.6, 0.8}
``limit_beta_<setting>``            Figure A1: LIMIT curves at every β of the grid (other hyperparameters at
                                    the selected point)
``gradient_histograms_<setting>``   Figures A2/A3: ‖s(a) − s(b)‖₂ and ‖s(b) − e_ỹ‖₂ for correct vs corrupted
                                    training labels, ROC AUC in the title
``confusing_<setting>``             Figure 3: the training images whose given label the q-network finds
                                    least plausible
``accuracy_vs_noise``               test accuracy vs noise rate per method, with the table's error bars
``detection``                       ROC AUC and average precision for finding the corrupted training labels,
                                    per setting: every q-network method (LIMIT) beside cleanlab (K-fold CE)
==================================  =====================================================================

``<setting>`` is the cell key of :mod:`limitlab.report.aggregate` with '/' → '_' (e.g. ``mnist5k_uniform_p80_nall``).
Figures A2/A3 and 3 use the q-network method (LIMIT) whose selected point has the best mean validation accuracy,
at its first finished seed. Settings without the data a figure needs are skipped with a message; everything
written (and skipped) is listed in ``figures/index.json``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from limitlab import io
from limitlab.report.aggregate import Cell, build_cells, point_curve
from limitlab.experiment.schema import Experiment

SMOOTH_SIGMA = 2.0          # epochs, scipy.ndimage.gaussian_filter1d (the authors' plotting helper)
CONFUSING_COUNT = 24        # images in the Figure 3 grid
FANO_RATES = (0.2, 0.4, 0.6, 0.8)
CORRECT_COLOR, CORRUPTED_COLOR = "#3b75af", "#d1495b"


def _setup():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold",
                         "legend.frameon": False, "pdf.fonttype": 42})
    return plt, sns


def method_colors(cells: list[Cell]) -> dict[str, Any]:
    """One colour per method id, fixed for the whole experiment (params order)."""
    import seaborn as sns

    ids = list(dict.fromkeys(c.method_id for c in cells))
    palette = sns.color_palette("tab10" if len(ids) <= 10 else "husl", len(ids))
    return dict(zip(ids, palette))


def smooth(y: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(y, dtype=float), SMOOTH_SIGMA)


def _plot_series(ax, epochs, values, color, label, raw: bool = True) -> None:
    values = np.asarray(values, dtype=float)
    if raw:
        ax.plot(epochs, 100 * values, color=color, lw=0.8, alpha=0.35)
    ax.plot(epochs, 100 * smooth(values), color=color, lw=2.0, label=label)


def _epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend_below(fig, axes, ncol_max: int = 5, spare_ax=None) -> None:
    """One legend for all panels: in an unused panel when there is one, else under the figure (constrained layout)."""
    handles, labels = {}, []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if not labels:
        return
    if spare_ax is not None:
        spare_ax.legend([handles[lab] for lab in labels], labels, loc="center", title="method")
    else:
        fig.legend([handles[lab] for lab in labels], labels, loc="outside lower center",
                   ncol=min(ncol_max, len(labels)))


GREEK = {"beta": "β", "lamb": "λ", "sigma": "σ"}


def point_label(point: dict[str, float]) -> str:
    """{'beta': 0.1, 'lamb': 50} -> 'β = 0.1, λ = 50' ('' for a method without hyperparameters)."""
    return ", ".join(f"{GREEK.get(k, k)} = {v:g}" for k, v in sorted(point.items()))


def _title_setting(cell: Cell) -> str:
    n = "all" if cell.n == "all" else f"{cell.n:,}"
    return f"{cell.dataset}, {cell.noise} noise p = {cell.p:g}, n = {n}"


# ---------------------------------------------------------------------------------------------------------------
# Individual figures (each returns a matplotlib Figure, or None when there is nothing to draw)
# ---------------------------------------------------------------------------------------------------------------


def curves_figure(cells: list[Cell], colors: dict, messages: list[str]):
    """Figures 1/2: training accuracy (noisy and clean labels) and clean test accuracy per epoch per method."""
    plt, _ = _setup()
    curves = [(c, point_curve(c.selected, messages)) for c in cells if c.selected is not None]
    curves = [(c, df) for c, df in curves if df is not None]
    if not curves:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True, layout="constrained")
    panels = [("train_acc_noisy", "Training accuracy, noisy labels"),
              ("train_acc_clean", "Training accuracy, clean labels"),
              ("test_acc", "Clean test accuracy")]
    for ax, (col, title) in zip(axes, panels):
        for cell, df in curves:
            if df[col].notna().all():
                label = cell.label + (f" ({point_label(cell.selected.point)})" if cell.selected.point else "")
                _plot_series(ax, df["epoch"], df[col], colors[cell.method_id], label)
        ax.set(title=title, xlabel="epoch", ylim=(0, 101))
        _epoch_axis(ax)
    p = cells[0].p
    if p > 0:
        axes[0].axhline(100 * (1 - p), color="0.3", ls="--", lw=1.2, label="correct labels (1 − p)")
    axes[0].set_ylabel("accuracy (%)")
    seeds = sorted({c.stats.get("n_seeds", 0) for c, _ in curves})
    fig.suptitle(f"Memorisation of noisy labels — {_title_setting(cells[0])} "
                 f"(selected point per method, mean of {'/'.join(map(str, seeds))} seed(s); "
                 f"thick: smoothed σ = {SMOOTH_SIGMA:g} epochs, thin: raw)", fontsize=11)
    _legend_below(fig, axes)
    return fig


def fano_figure():
    """Figure A0: Theorem 1's bound on the training error rate vs the label information per example."""
    from limitlab.report.figures.fano_bound import fano_curve, fano_error_bound, label_entropy

    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colors = sns.color_palette("rocket", len(FANO_RATES) + 1)
    for color, p in zip(colors, FANO_RATES):
        info, bound = fano_curve(p, K=10)
        ax.plot(info, 100 * bound, color=color, lw=2, label=f"p = {p:g} (H = {label_entropy(p, 10):.2f} bits)")
    ax.set(xlabel="label information per example  I(w; y | x) / n  (bits)",
           ylabel="lower bound on training error (%)", ylim=(0, 100), xlim=(0, None),
           title="Fano bound (Theorem 1), K = 10, uniform label noise")
    # The paper's example: at p = 0.8, one bit of label information per example still leaves ≥ 40.5% error.
    r1 = fano_error_bound(1.0, 0.8, 10, grid=np.linspace(0.001, 0.999, 99_801))  # fine grid for the label
    ax.plot([1.0], [100 * r1], "o", color=colors[len(FANO_RATES) - 1], ms=5)
    ax.annotate(f"{100 * r1:.1f}% at 1 bit", (1.0, 100 * r1), xytext=(8, 6), textcoords="offset points", fontsize=9)
    ax.legend(title="noise rate")
    fig.tight_layout()
    return fig


def limit_beta_figure(cells: list[Cell], messages: list[str]):
    """Figure A1: train/test curves of each LIMIT method at every β (other hyperparameters as selected)."""
    plt, sns = _setup()
    rows = []
    for cell in cells:
        if cell.selected is None or "beta" not in cell.selected.point:
            continue
        fixed = {k: v for k, v in cell.selected.point.items() if k != "beta"}
        pts = sorted((pt for pt in cell.points if pt.complete and pt.point.get("beta") is not None
                      and {k: v for k, v in pt.point.items() if k != "beta"} == fixed),
                     key=lambda pt: pt.point["beta"])
        if len(pts) > 1:
            rows.append((cell, pts, fixed))
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.9 * len(rows) + 0.6), sharey=True, squeeze=False)
    for (cell, pts, fixed), (ax_tr, ax_te) in zip(rows, axes):
        palette = sns.color_palette("viridis", len(pts))
        for color, pt in zip(palette, pts):
            df = point_curve(pt, messages)
            if df is None:
                continue
            label = f"β = {pt.point['beta']:g}" + (" (selected)" if pt is cell.selected else "")
            _plot_series(ax_tr, df["epoch"], df["train_acc_noisy"], color, label)
            if df["test_acc"].notna().all():
                _plot_series(ax_te, df["epoch"], df["test_acc"], color, label)
        extra = point_label(fixed)
        ax_tr.set(title=f"{cell.label}: training accuracy, noisy labels" + (f" ({extra})" if extra else ""),
                  xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 101))
        ax_te.set(title=f"{cell.label}: clean test accuracy", xlabel="epoch", ylim=(0, 101))
        if cell.p > 0:
            ax_tr.axhline(100 * (1 - cell.p), color="0.3", ls="--", lw=1.2, label="correct labels (1 − p)")
            ax_tr.legend(handles=ax_tr.get_lines()[-1:], loc="upper left", fontsize=8)
        ax_te.legend(loc="lower right", fontsize=8)
        _epoch_axis(ax_tr)
        _epoch_axis(ax_te)
    fig.suptitle(f"LIMIT at different β — {_title_setting(rows[0][0])} (thick: smoothed σ = {SMOOTH_SIGMA:g}, "
                 "thin: raw; higher β = less label information)", fontsize=11)
    fig.tight_layout()
    return fig


def pick_q_run(cells: list[Cell]) -> tuple[Cell, Any] | None:
    """The q-network cell with the best selected mean val accuracy, and its first finished seed with scores."""
    candidates = []
    for cell in cells:
        if cell.selected is None:
            continue
        for rec in cell.selected.done:
            if (Path(rec.run.spec.eval_dir) / "train_scores.npz").is_file():
                candidates.append((cell.stats["val_acc"], -len(candidates), cell, rec))
                break
    if not candidates:
        return None
    _, _, cell, rec = max(candidates, key=lambda t: (t[0], t[1]))
    return cell, rec


def gradient_histograms_figure(cell: Cell, rec) -> Any:
    """Figures A2/A3: predicted-gradient norms and predicted-vs-CE distances, correct vs corrupted labels."""
    from limitlab.evaluation.evaluate import detection_metrics

    plt, sns = _setup()
    scores = io.load_npz(Path(rec.run.spec.eval_dir) / "train_scores.npz", "train scores file")
    det = detection_metrics(scores["distance"], scores["is_corrupted"])
    df = pd.DataFrame({"grad_norm": scores["grad_norm"], "distance": scores["distance"],
                       "label": np.where(scores["is_corrupted"].astype(bool), "corrupted label", "correct label")})
    hue_order = [h for h in ("correct label", "corrupted label") if h in set(df["label"])]
    palette = {"correct label": CORRECT_COLOR, "corrupted label": CORRUPTED_COLOR}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    panels = [("grad_norm", "Predicted gradient norm (Fig. A2)", "‖s(a) − s(b)‖₂"),
              ("distance", "Distance to the cross-entropy gradient (Fig. A3)", "‖s(b) − e_ỹ‖₂")]
    for ax, (col, title, xlabel) in zip(axes, panels):
        sns.histplot(df, x=col, hue="label", hue_order=hue_order, palette=palette, bins=40, stat="density",
                     common_norm=False, element="step", alpha=0.35, ax=ax)
        ax.set(title=title, xlabel=xlabel, ylabel="density (per group)")
    auc = det["detection_auc"]
    auc_text = (f"ROC AUC for finding corrupted labels by distance = {100 * auc:.2f}%, AP = {100 * det['detection_ap']:.2f}%"
                if auc is not None else "ROC AUC undefined (" + det["detection_note"].split(": ", 1)[-1] + ")")
    n_bad = int(np.sum(scores["is_corrupted"]))
    fig.suptitle(f"{cell.label} ({point_label(cell.selected.point) or 'no hyperparameters'}, seed {rec.run.spec.seed})"
                 f" — {_title_setting(cell)}\n"
                 f"{len(df):,} training examples, {n_bad:,} corrupted — {auc_text}", fontsize=11)
    fig.tight_layout()
    return fig


_CANON_CACHE: dict[str, Any] = {}


def _training_image(canon, index: int) -> np.ndarray | None:
    if canon.train_x is not None:
        img = canon.train_x[index]
        return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    path = Path(str(canon.train_files[index]))
    if not path.is_file():
        return None
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((128, 128)))


def confusing_figure(cell: Cell, rec, count: int = CONFUSING_COUNT):
    """Figure 3: the training examples whose given label is farthest from the q-network's prediction."""
    from limitlab.data import datasets

    plt, _ = _setup()
    suspicious = pd.read_csv(Path(rec.run.spec.eval_dir) / "suspicious.csv", nrows=count)
    if suspicious.empty:
        return None
    data_path = str(rec.run.spec.data_path)
    if data_path not in _CANON_CACHE:
        _CANON_CACHE.clear()  # one dataset in memory at a time
        _CANON_CACHE[data_path] = datasets.load_canonical(data_path)
    canon = _CANON_CACHE[data_path]
    names = canon.info.class_names
    ncol = 8
    nrow = int(np.ceil(len(suspicious) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.8 * ncol, 2.3 * nrow + 0.9), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, row in zip(axes.ravel(), suspicious.itertuples()):
        img = _training_image(canon, int(row.train_index))
        if img is None:
            ax.text(0.5, 0.5, "image\nnot found", ha="center", va="center", fontsize=8)
        else:
            ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, interpolation="nearest")
        wrong = bool(row.is_corrupted)
        ax.set_title(f"#{row.rank}  d = {row.score:.3f}\ngiven: {names[row.given_label]}\n"
                     f"q-net: {names[row.predicted_label]}", fontsize=8, color=CORRUPTED_COLOR if wrong else "black",
                     fontweight="bold" if wrong else "normal")
    fig.suptitle(f"Most suspicious training labels — {cell.label} ({point_label(cell.selected.point)}, "
                 f"seed {rec.run.spec.seed}), "
                 f"{_title_setting(cell)}\nranked by d = ‖s(b) − e_given‖₂; red title = the given label is known "
                 "to be corrupted", fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_noise_figure(cells: list[Cell], colors: dict):
    """Test accuracy (selected point) vs noise rate, one panel per (study, n), with the table's error bars."""
    plt, _ = _setup()
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for c in cells:
        if c.selected is not None:
            groups[(c.study.id, c.dataset, c.noise, c.n)].append(c)
    if not groups:
        return None
    ncol = min(3, len(groups))
    nrow = int(np.ceil(len(groups) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.6 * ncol, 4.3 * nrow + 0.8), squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    spare = axes.ravel()[len(groups)] if len(groups) < axes.size else None
    for ax, ((study, dataset, noise, n), group) in zip(axes.ravel(), groups.items()):
        by_method: dict[str, list[Cell]] = defaultdict(list)
        for c in group:
            by_method[c.method_id].append(c)
        rates = sorted({c.p for c in group})
        offsets = np.linspace(-0.6, 0.6, len(by_method)) if len(by_method) > 1 else [0.0]
        for off, (mid, cs) in zip(offsets, by_method.items()):
            cs = sorted(cs, key=lambda c: c.p)
            x = np.array([100 * c.p for c in cs]) + off  # small dodge so error bars do not hide each other
            y = [100 * c.stats["test_acc"] for c in cs]
            err = [100 * (c.stats["test_acc_std"] or 0.0) for c in cs]
            ax.errorbar(x, y, yerr=err, color=colors[mid], marker="o", ms=4, lw=1.5, capsize=3, label=cs[0].label)
        n_txt = "all" if n == "all" else f"{n:,}"
        ax.set(title=f"{dataset}, {noise} noise, n = {n_txt}" + (f" [{study}]" if len(groups) > 1 else ""),
               xlabel="noise rate p (%)", ylabel="clean test accuracy (%)", xticks=[100 * r for r in rates])
    kinds = {c.stats["error"] for g in groups.values() for c in g}
    err_txt = " / ".join(k for k, on in (("std over seeds", "seed_std" in kinds),
                                         ("bootstrap std", "bootstrap_std" in kinds)) if on) or "none"
    fig.suptitle(f"Clean test accuracy vs noise rate\n(selected point per method; error bars: {err_txt})",
                 fontsize=11)
    _legend_below(fig, axes, spare_ax=spare)
    return fig


def detection_figure(frame: pd.DataFrame):
    """ROC AUC and AP (%) of each detector per setting (aggregate.detection_frame: LIMIT rows and cleanlab)."""
    plt, sns = _setup()
    frame = frame.dropna(subset=["detection_auc_pct"])
    if frame.empty:
        return None
    long = frame.melt(id_vars=["setting", "label"], value_vars=["detection_auc_pct", "detection_ap_pct"],
                      var_name="metric", value_name="value").dropna(subset=["value"])
    long["metric"] = long["metric"].map({"detection_auc_pct": "ROC AUC (%)", "detection_ap_pct": "average precision (%)"})
    settings = list(dict.fromkeys(frame["setting"]))
    fig, axes = plt.subplots(1, 2, figsize=(6 + 2.2 * len(settings), 4.6), sharey=True, layout="constrained")
    labels = list(dict.fromkeys(frame["label"]))
    palette = dict(zip(labels, sns.color_palette("tab10" if len(labels) <= 10 else "husl", len(labels))))
    for ax, metric in zip(axes, ["ROC AUC (%)", "average precision (%)"]):
        sns.barplot(long[long["metric"] == metric], x="setting", y="value", hue="label", hue_order=labels,
                    order=settings, palette=palette, ax=ax, legend=ax is axes[0])
        ax.set(title=metric, xlabel="", ylabel="%", ylim=(0, 100))
        ax.tick_params(axis="x", labelrotation=15)
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    _legend_below(fig, axes, ncol_max=4)
    fig.suptitle("Finding the corrupted training labels: LIMIT (distance ‖s(b) − e_ỹ‖₂) vs cleanlab "
                 "(1 − self-confidence, K-fold CE)", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Driver
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

    with multiprocessing.get_context("fork").Pool(min(jobs, len(_TASKS))) as pool:
        return pool.map(functools.partial(_draw, out_dir=out_dir, messages=messages), range(len(_TASKS)), chunksize=1)


def make_figures(exp: Experiment, results_dir: Path | None = None, console=None, jobs: int = 1) -> dict:
    """Draw every figure the experiment's finished runs allow (``jobs`` at a time); return (and write) the index."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console(width=None if sys.stdout.isatty() else 200)
    results_dir = Path(results_dir or exp.results_path)
    out_dir = results_dir / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = build_cells(exp)
    colors = method_colors(cells)
    messages: list[str] = []
    figures: list[dict] = []
    skipped: list[dict] = []
    _TASKS.clear()

    def emit(name: str, kind: str, make, setting: str | None = None, **info) -> None:
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
        picked = pick_q_run(group)
        if picked is None:
            for kind in ("gradient_histograms", "confusing"):
                emit(f"{kind}_{tag}", kind, lambda: None, key,
                     why="no evaluated q-network run (train_scores.npz) in this setting")
            continue
        cell, rec = picked
        src = {"run": rec.run.key, "method_id": cell.method_id, "point": cell.selected.tag}
        emit(f"gradient_histograms_{tag}", "gradient_histograms", lambda cell=cell, rec=rec: gradient_histograms_figure(cell, rec),
             key, **src)
        emit(f"confusing_{tag}", "confusing", lambda cell=cell, rec=rec: confusing_figure(cell, rec), key, **src)
    emit("accuracy_vs_noise", "accuracy_vs_noise", lambda: accuracy_vs_noise_figure(cells, colors),
         why="no finished cell")
    from limitlab.report.aggregate import cleanlab_results, detection_frame

    emit("detection", "detection", lambda: detection_figure(detection_frame(cells, cleanlab_results(exp, messages))),
         why="no detection scores (no evaluated q-network run and no cleanlab result)")

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
    index = {"experiment": exp.name, "figures": figures, "skipped": skipped}
    io.write_json(out_dir / "index.json", index)
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
    old = out_dir / "index.json"
    try:
        previous = json.loads(old.read_text())["figures"] if old.is_file() else []
    except (json.JSONDecodeError, KeyError, TypeError):
        return
    for f in previous:
        for fmt in ("png", "pdf"):
            name = f.get(fmt) if isinstance(f, dict) else None
            if name and name not in keep and "/" not in name:
                (out_dir / name).unlink(missing_ok=True)
