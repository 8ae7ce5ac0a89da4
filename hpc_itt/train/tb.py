"""TensorBoard writing, rank 0 only: one run directory per stage / model / task / arm / seed."""
from __future__ import annotations

from pathlib import Path


class TBLogger:
    """A no-op on every rank but 0, so call sites need no rank checks.

    `purge_step` (the first step after the checkpoint) makes a resumed run drop the events its
    previous segment logged after that checkpoint, so a requeued run shows one clean curve.
    """

    def __init__(self, logdir: str | Path | None, enabled: bool, purge_step: int | None = None):
        self.writer = None
        if enabled and logdir is not None:
            from torch.utils.tensorboard import SummaryWriter

            Path(logdir).mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(logdir), purge_step=purge_step or None)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            if value is not None:
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def hparams(self, params: dict, metrics: dict[str, float]) -> None:
        """HParams dashboard entry in this run's own event file. (SummaryWriter.add_hparams would
        open a separate sub-run, which shows up as a second run per cell.)"""
        if self.writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        for summary in hparams(params, metrics):
            self.writer._get_file_writer().add_summary(summary)
        for key, value in metrics.items():
            self.writer.add_scalar(key, value)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, text, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
