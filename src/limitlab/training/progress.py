"""What a training run shows while it runs: a live bar on a terminal, one plain line per epoch in a log."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Rich progress bar on a terminal; one plain line per epoch otherwise (cluster logs)."""

    label: str
    epochs: int
    batches: int
    live: bool = field(default_factory=lambda: sys.stdout.isatty())

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self._p = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                   TimeElapsedColumn(), TextColumn("{task.fields[stats]}"))
            self._p.__enter__()
            self._epochs = self._p.add_task(self.label, total=self.epochs, stats="")
            self._batches = self._p.add_task("  batches", total=self.batches, stats="")
        return self

    def __exit__(self, *exc):
        if self.live:
            self._p.__exit__(*exc)

    def batch(self, i: int, loss: float) -> None:
        if self.live:
            self._p.update(self._batches, completed=i, stats=f"loss {loss:.4f}")

    def epoch(self, row: dict) -> None:
        text = (f"epoch {row['epoch']:>3}  loss {row['train_loss']:.4f}  train(noisy) {row['train_acc_noisy']:.4f}  "
                f"val {row['val_acc']:.4f}" + (f"  test {row['test_acc']:.4f}" if "test_acc" in row else "")
                + f"  {row['time_s']:.1f}s")
        if self.live:
            self._p.update(self._epochs, completed=row["epoch"] + 1, stats=text)
            self._p.reset(self._batches)
        else:
            print(f"[{self.label}] {text}", flush=True)
