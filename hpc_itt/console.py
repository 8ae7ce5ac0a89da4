"""What the user sees on the console: the stages' timestamped lines, and progress bars only on a
terminal (they are noise in Slurm logs and captured output)."""
from __future__ import annotations

import sys
import time


def say(message: str) -> None:
    print(f"[hpc_itt {time.strftime('%H:%M:%S')}] {message}", flush=True)


def quiet_progress() -> None:
    if not sys.stderr.isatty():
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
