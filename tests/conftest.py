import os

# Before anything imports DeepSpeed: CPU accelerator, no GPU probing, quiet collectives.
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_bert() -> str:
    from hpc_itt.assets import model_asset

    return str(model_asset("tiny-bert"))


@pytest.fixture(scope="session")
def movie_jsonl() -> str:
    """Real text: VADER's human-scored movie snippets (binary label by sign)."""
    from hpc_itt.assets import dataset_asset

    return str(dataset_asset("vader-movie"))


# A tiny but complete study (tiny-bert, a few dozen rows): the pipeline in about a minute.
TINY = ["models=[tiny-bert]", "intermediate.epochs=2", "intermediate.max_train_examples=128",
        "intermediate.max_eval_examples=32", "intermediate.save_every_steps=3", "intermediate.lr=3e-3",
        "target.epochs=2", "target.max_train_examples=64", "target.max_eval_examples=32", "target.lr=3e-3"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(autouse=True)
def _restore_environ():
    """In-process runs export RANK/MASTER_* straight into os.environ; without this they would
    leak into the jobs of later tests (all local jobs would share one MASTER_PORT)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def finish_cell(study, cell, metrics: dict) -> Path:
    """A grid cell as a finished job leaves it: its settings record, metrics.json and DONE."""
    from hpc_itt.study import plan, provenance

    out = plan.cell_dir(study, cell)
    out.mkdir(parents=True, exist_ok=True)
    provenance.write_record(out, provenance.Ledger(study).cell(cell))
    (out / plan.METRICS).write_text(json.dumps(metrics))
    (out / plan.DONE).write_text("")
    return out
