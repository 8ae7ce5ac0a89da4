"""Elastic resume: a run checkpointed at one world size resumes at another (DeepSpeed universal
checkpoints), keeping the global batch, the sample order and Adam's moments.

Each case: an uninterrupted run at the new world size (the reference), a run at the old world
size stopped after STOP steps, and its resume at the new world size. The sample digests of every
step match the reference exactly (before and after the change); the losses of the next 20 steps
match within TOLERANCE (reduction order differs between world sizes, so not bit for bit).
"""
import json
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, free_port

from hpc_itt.config.schema import DataConfig, DatasetSpec, SourceSpec, TrainConfig
from hpc_itt.train import elastic, loop
from hpc_itt.train.head import SequenceHead

pytestmark = pytest.mark.slow

MOVIES = DatasetSpec(description="movie sentiment", num_labels=2, offline=SourceSpec(asset="vader-movie"))
STOP, AFTER = 5, 20  # steps before the change, steps compared after it
GLOBAL_BATCH = 8
# max |loss difference| over the AFTER steps; measured (14 min for the 9 cases on 2 cores): fp32
# <= 6e-8, bf16 <= 9.8e-4 (the loss's own bf16 rounding)
TOLERANCE = {"fp32": 1e-6, "bf16": 4e-3}
RESULTS = Path(os.environ.get("HPC_ITT_ELASTIC_RESULTS", "")) if os.environ.get("HPC_ITT_ELASTIC_RESULTS") else None


def job(out: Path, model: str, zero: int, precision: str) -> loop.TrainJob:
    train = TrainConfig(epochs=1, lr=2e-3, micro_batch_size=2, global_batch_size=GLOBAL_BATCH, max_length=48,
                        zero_stage=zero, precision=precision, log_every_steps=1, warmup_ratio=0.1,
                        max_train_examples=GLOBAL_BATCH * (STOP + AFTER), max_eval_examples=32)
    data = DataConfig(source="offline")
    return loop.TrainJob(name="elastic", model_source=model, head=SequenceHead(MOVIES, data, "classification", 2),
                         data=data, train=train, out_dir=str(out / "run"), tb_dir=None, seed=4)


def torchrun(train_job: loop.TrainJob, nproc: int, tmp: Path, name: str) -> dict:
    spec, out = tmp / f"{name}.pkl", tmp / f"{name}.json"
    spec.write_bytes(pickle.dumps(train_job))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                           "--master_port", str(free_port()), str(REPO / "tests" / "_worker.py"), str(spec), str(out)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def steplog(run: loop.TrainJob) -> list[dict]:
    return [json.loads(line) for line in (Path(run.out_dir) / "train_log.jsonl").read_text().splitlines()]


ALL_CASES = [  # (ZeRO stage, precision, old world, new world); ZeRO-1 + bf16 is refused by the schema
    (1, "fp32", 4, 2), (1, "fp32", 2, 1), (1, "fp32", 1, 2),
    (2, "bf16", 4, 2), (2, "fp32", 2, 1), (2, "bf16", 1, 2),
    (3, "fp32", 4, 2), (3, "bf16", 2, 1), (3, "fp32", 1, 2),
]
# The suite runs every stage at two of the three changes (each change twice, both precisions),
# ~1.5 min a case on 2 cores; HPC_ITT_ELASTIC_ALL=1 runs all nine (all passed, see the README).
CASES = ALL_CASES if os.environ.get("HPC_ITT_ELASTIC_ALL") else [ALL_CASES[i] for i in (0, 2, 3, 4, 7, 8)]


@pytest.mark.parametrize("zero, precision, old, new", CASES, ids=[f"zero{z}-{p}-{a}to{b}" for z, p, a, b in CASES])
def test_resume_at_another_world_size(tmp_path, tiny_bert, zero, precision, old, new):
    reference = job(tmp_path / "reference", tiny_bert, zero, precision)
    torchrun(reference, new, tmp_path, "reference")
    elastic_run = job(tmp_path / "elastic", tiny_bert, zero, precision)
    stopped = torchrun(replace(elastic_run, stop_after_steps=STOP), old, tmp_path, "stopped")
    assert stopped == {"interrupted_at_step": STOP}
    ckpt = Path(elastic_run.out_dir) / "checkpoints"
    assert elastic.read_meta(ckpt / f"step{STOP}")["world_size"] == old

    resumed = torchrun(elastic_run, new, tmp_path, "resumed")

    assert resumed["world_size"] == new and resumed["steps"] == STOP + AFTER
    ours, theirs = steplog(elastic_run), steplog(reference)
    assert [r["step"] for r in ours] == [r["step"] for r in theirs] == list(range(1, STOP + AFTER + 1))
    # the same samples at every step, before and after the change: nothing skipped, nothing twice
    assert [r["samples_sha256"] for r in ours] == [r["samples_sha256"] for r in theirs]
    after = [abs(a["loss"] - b["loss"]) for a, b in zip(ours[STOP:], theirs[STOP:])]
    assert len(after) == AFTER and max(after) <= TOLERANCE[precision], after
    # the conversion happened once, atomically, and a newer checkpoint at the new size replaced it
    assert not list(ckpt.glob(f"{elastic.UNIVERSAL}/.tmp-*"))  # no half-made conversion left
    assert elastic.read_meta(ckpt / (ckpt / "latest").read_text())["world_size"] == new
    if RESULTS:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"zero{zero}-{precision}-{old}to{new}.json").write_text(json.dumps(
            {"max_abs_loss_diff": max(after), "diffs": after, "samples_match": True}))


def test_the_command_converts_ahead_and_adam_moments_matter(tmp_path, tiny_bert):
    """`python -m hpc_itt.train.elastic CHECKPOINTS` converts ahead of the resume (which then uses
    that copy), and the control: the same resume with Adam's moments zeroed in the copy leaves
    the tolerance far behind, so the comparison above does see the optimizer state."""
    import torch

    reference = job(tmp_path / "reference", tiny_bert, 2, "fp32")
    torchrun(reference, 1, tmp_path, "reference")
    runs = {}
    for name, zero_moments in (("kept", False), ("zeroed", True)):
        run = job(tmp_path / name, tiny_bert, 2, "fp32")
        torchrun(replace(run, stop_after_steps=STOP), 2, tmp_path, f"{name}-stopped")
        ckpt = Path(run.out_dir) / "checkpoints"
        done = subprocess.run([sys.executable, "-m", "hpc_itt.train.elastic", str(ckpt)], capture_output=True,
                              text=True, cwd=REPO, timeout=300)
        assert done.returncode == 0 and f"step{STOP}: world size 2" in done.stdout, done.stderr[-2000:]
        converted = ckpt / elastic.UNIVERSAL / f"step{STOP}"
        moments = list(converted.glob("zero/*/exp_avg*.pt"))
        assert moments and all(torch.load(f, weights_only=False)["param"].abs().sum() > 0 for f in moments)
        if zero_moments:
            for f in moments:
                state = torch.load(f, weights_only=False)
                state["param"].zero_()
                torch.save(state, f)
        torchrun(run, 1, tmp_path, f"{name}-resumed")
        runs[name] = max(abs(a["loss"] - b["loss"]) for a, b in zip(steplog(run)[STOP:], steplog(reference)[STOP:]))
    assert runs["kept"] <= TOLERANCE["fp32"] < 100 * TOLERANCE["fp32"] < runs["zeroed"], runs
    missing = subprocess.run([sys.executable, "-m", "hpc_itt.train.elastic", str(tmp_path / "nothing")],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1 and "nothing" in missing.stderr
