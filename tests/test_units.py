"""Unit tests of small pure functions, with values worked out by hand: sacct's array ids
(backends.slurm.jobs._expand), the DeepSpeed precision keys (engine.ds_config), the warmup + linear-decay
factor (engine.lr_lambda), checkpoint pruning (checkpoint._prune) and atomic writes under concurrency."""
import os
from pathlib import Path

import pytest

from hpc_itt.backends.slurm import jobs
from hpc_itt.config.schema import TrainConfig
from hpc_itt.train import checkpoint, engine

# --------------------------------------------------------------------------- slurm jobs._expand


@pytest.mark.parametrize("job_id, expected", [
    ("123", ["123"]),                                  # a plain job
    ("123_4", ["123_4"]),                              # one array task, already expanded
    ("123.batch", ["123.batch"]),                      # a job step: as it is
    ("123_[7]", ["123_7"]),                            # one pending task
    ("123_[0-2]", ["123_0", "123_1", "123_2"]),        # a range includes both ends
    ("123_[3-3]", ["123_3"]),
    ("123_[0-2,5%2]", ["123_0", "123_1", "123_2", "123_5"]),  # the %throttle is not a task
    ("123_[1,3-4,9]", ["123_1", "123_3", "123_4", "123_9"]),
    ("77_[8-11%4]", ["77_8", "77_9", "77_10", "77_11"]),       # numbers, not digits: 8..11
])
def test_expand_sacct_array_ids(job_id, expected):
    assert jobs._expand(job_id) == expected


def test_pending_array_records_give_every_task_its_state(tmp_path, monkeypatch):
    """sacct lists never-started tasks as one `123_[2-3%2]` record: each task gets that state."""
    fake = tmp_path / "sacct"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n123_0|COMPLETED\n123_1|CANCELLED by 0\n123_[2-3%2]|PENDING\nEOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    states: dict[str, str] = {}
    assert jobs._query_sacct(["123"], states) is None
    # COMPLETED without a DONE marker is a failure: the cell did not finish
    assert states == {"123_0": "failed", "123_1": "cancelled", "123_2": "pending", "123_3": "pending"}


# --------------------------------------------------------------------------- engine.ds_config


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"micro_batch_size": 4, "grad_accum": 3, "grad_clip": 0.5, **kw})


@pytest.mark.parametrize("zero", [1, 2, 3])
def test_bf16_under_zero_accumulates_gradients_in_fp32(zero):
    config = engine.ds_config(cfg(precision="bf16", zero_stage=zero), world=2)
    assert config["bf16"] == {"enabled": True}
    assert config["data_types"] == {"grad_accum_dtype": "fp32"}
    assert "fp16" not in config and config["zero_optimization"] == {"stage": zero}


def test_bf16_without_zero_sets_no_accumulation_dtype():
    """ZeRO-0 (plain data parallel) accepts no other grad_accum_dtype: the key must be absent."""
    config = engine.ds_config(cfg(precision="bf16", zero_stage=0), world=1)
    assert config["bf16"] == {"enabled": True}
    assert "data_types" not in config and "fp16" not in config


@pytest.mark.parametrize("zero", [0, 2])
def test_fp16_uses_dynamic_loss_scaling_and_no_bf16_keys(zero):
    config = engine.ds_config(cfg(precision="fp16", zero_stage=zero), world=1)
    assert config["fp16"] == {"enabled": True, "initial_scale_power": 16, "loss_scale_window": 1000}
    assert "bf16" not in config and "data_types" not in config


@pytest.mark.parametrize("zero", [0, 3])
def test_fp32_has_no_precision_keys(zero):
    config = engine.ds_config(cfg(precision="fp32", zero_stage=zero), world=1)
    assert not {"bf16", "fp16", "data_types"} & set(config)


def test_batch_sizes_multiply_over_the_world():
    config = engine.ds_config(cfg(precision="fp32", zero_stage=2), world=8)
    assert config["train_micro_batch_size_per_gpu"] == 4 and config["gradient_accumulation_steps"] == 3
    assert config["train_batch_size"] == 4 * 3 * 8 == 96
    assert config["gradient_clipping"] == 0.5


# --------------------------------------------------------------------------- engine.lr_lambda


def test_lr_warms_up_linearly_then_decays_to_zero():
    factor = engine.lr_lambda(total_steps=10, warmup_steps=4)
    # warmup: (step + 1) / 4, so the first step already trains and step 3 reaches the full lr
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    # decay: (10 - step) / (10 - 4)
    assert [factor(s) for s in range(4, 11)] == pytest.approx([1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0.0])
    assert factor(9) > 0  # the last of the 10 steps (0..9) still trains
    assert factor(11) == 0.0 and factor(50) == 0.0  # past the end: clamped, never negative


def test_no_warmup_starts_at_the_full_lr():
    factor = engine.lr_lambda(total_steps=10, warmup_steps=0)
    assert factor(0) == 1.0
    assert factor(5) == 0.5 and factor(9) == pytest.approx(0.1) and factor(10) == 0.0


def test_warmup_over_all_steps_never_divides_by_zero():
    factor = engine.lr_lambda(total_steps=5, warmup_steps=5)
    assert [factor(s) for s in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert factor(5) == 0.0 and factor(6) == 0.0
    assert engine.lr_lambda(total_steps=0, warmup_steps=0)(0) == 0.0


def test_lr_lambda_drives_torch_lambdalr_step_by_step():
    """As build() uses it: the lr of optimizer step k is base_lr * factor(k)."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, engine.lr_lambda(total_steps=6, warmup_steps=2))
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.05, 0.1, 0.1, 0.075, 0.05, 0.025])
    assert optimizer.param_groups[0]["lr"] == 0.0


# --------------------------------------------------------------------------- checkpoint._prune


def checkpoints(root: Path, *steps: int, latest: str | None = None, best: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for step in steps:
        (root / f"step{step}").mkdir()
        (root / f"step{step}" / "mp_rank_00_model_states.pt").write_bytes(b"x")
    if latest:
        (root / checkpoint.LATEST).write_text(latest)
    if best:
        (root / checkpoint.BEST).write_text(best)
    return root


def left(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_prune_keeps_the_newest_and_the_pointed_to(tmp_path):
    root = checkpoints(tmp_path / "ckpt", 1, 2, 3, 4, 5, latest="step5", best="step2")
    checkpoint._prune(root, keep=2)
    assert left(root) == {"step2", "step4", "step5", "latest", "best"}  # step2: `best` points to it
    assert (root / "step2" / "mp_rank_00_model_states.pt").is_file()


def test_prune_orders_steps_by_number_not_by_name(tmp_path):
    """By name, step9 > step10 > step11 ... and the newest would be the one removed."""
    root = checkpoints(tmp_path / "ckpt", 9, 10, 11, 100, latest="step100")
    checkpoint._prune(root, keep=2)
    assert left(root) == {"step11", "step100", "latest"}


def test_prune_keep_one_without_pointers_leaves_the_newest(tmp_path):
    root = checkpoints(tmp_path / "ckpt", 3, 6, 12)
    checkpoint._prune(root, keep=1)
    assert left(root) == {"step12"}


def test_prune_keep_zero_keeps_only_the_pointed_to(tmp_path):
    """keep=0 is not `steps[:-0]` (nothing): every step nobody points to goes."""
    root = checkpoints(tmp_path / "ckpt", 1, 2, 3, latest="step2\n")  # a pointer's newline is not its name
    checkpoint._prune(root, keep=0)
    assert left(root) == {"step2", "latest"}


def test_prune_keeps_everything_when_there_are_fewer_than_keep(tmp_path):
    root = checkpoints(tmp_path / "ckpt", 1, 2, latest="step2")
    checkpoint._prune(root, keep=5)
    assert left(root) == {"step1", "step2", "latest"}


def test_prune_touches_only_step_folders(tmp_path):
    """A half-written `.tmp-step9`, other folders and files named like steps are not checkpoints."""
    root = checkpoints(tmp_path / "ckpt", 1, 2, 3, latest="step3")
    (root / ".tmp-step9").mkdir()
    (root / "consolidated").mkdir()
    (root / "step0").write_text("a file, not a folder")
    checkpoint._prune(root, keep=1)
    assert left(root) == {"step3", "latest", ".tmp-step9", "consolidated", "step0"}


# --------------------------------------------------------------------------- atomic.replacing
def test_concurrent_writers_of_one_path_never_collide(tmp_path):
    """Two reports written at once (two processes on one study) once shared a fixed temp name, and
    the slower rename failed. Each writer now has its own temp file: every write lands whole."""
    import multiprocessing

    from hpc_itt import atomic

    target = tmp_path / "report.md"
    texts = [str(i) * 20_000 for i in range(8)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.starmap(atomic.write_text, [(target, text) for text in texts for _ in range(5)])
    assert target.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temp file left behind


def _save_a_plot(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hpc_itt.report import plots

    for _ in range(3):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        plots._save(fig, path)


def test_two_reports_saving_one_plot_at_once(tmp_path):
    """The failure CI saw: two `--stage target` processes on one study finished together and both
    saved delta.png through one temp name; one rename found the file gone."""
    import multiprocessing

    target = tmp_path / "delta.png"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_save_a_plot, [target] * 4)
    assert target.read_bytes().startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["delta.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    from hpc_itt import atomic

    target = tmp_path / "delta.png"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(target, suffix=".png") as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_text("half")
            raise RuntimeError("the plot failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["delta.png"]


def test_written_files_follow_the_umask(tmp_path):
    from hpc_itt import atomic

    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "result.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "result.json").stat().st_mode & 0o777 == 0o644  # readable by the group, as open() makes it
