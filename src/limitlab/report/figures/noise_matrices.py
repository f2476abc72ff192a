"""``noise_matrices_<setting>``: the noise matrix P(given label | true class) as heatmaps, side by side: the noise
model's (uniform and pair noise), the one realised in the training split, and cleanlab's estimate of it. The
numbers stay in detection.csv (noise_matrix_true = realised, noise_matrix_estimate)."""

from __future__ import annotations

import numpy as np

from limitlab.report.figures.style import setup


def model_matrix(noise: str, p: float, dataset: str, num_classes: int | None = None) -> np.ndarray | None:
    """The noise model's transition matrix for uniform and pair noise; None for the others (no fixed matrix). An own
    dataset (not in this process's registry: its file is not read here) takes ``num_classes`` and has no pairs."""
    if noise not in ("uniform", "pair"):
        return None
    from limitlab.data.noise.transition import transition_matrix
    from limitlab.data.registry import DATASETS, get_info

    if dataset not in DATASETS and num_classes is not None:
        return transition_matrix(noise, p, num_classes) if noise == "uniform" else None
    info = get_info(dataset)
    return transition_matrix(noise, p, info.num_classes, pairs=info.pairs)


def noise_matrices_figure(row: dict, model: np.ndarray | None):
    """One heatmap per matrix of one cleanlab row (cleanlab.json's realised and estimated matrices)."""
    plt, sns = setup()
    panels = [("noise model", model)] if model is not None else []
    panels += [("realised in the training split", np.asarray(row["noise_matrix_true"])),
               (f"estimated by {row['label']}", np.asarray(row["noise_matrix_estimate"]))]
    k = panels[-1][1].shape[0]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels) + 1.0, 4.4), layout="constrained")
    for i, (ax, (title, m)) in enumerate(zip(axes, panels)):
        sns.heatmap(100 * m, ax=ax, vmin=0, vmax=100, cmap="mako_r", square=True, cbar=i == len(panels) - 1,
                    cbar_kws={"label": "%"}, annot=k <= 10, fmt=".0f", annot_kws={"fontsize": 7})
        ax.set(title=title, xlabel="given label", ylabel="true class" if i == 0 else "")
    fig.suptitle(f"Noise matrix P(given | true) — {row['setting']} (rows sum to 100 %; "
                 f"mean abs. error of the estimate: {row['noise_matrix_mae']:.4f})", fontsize=11)
    return fig

