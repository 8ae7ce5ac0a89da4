"""The one training loop both stages use, on `deepspeed.initialize`.

Read top to bottom: set up (process group, data, model, engine, resume) → epochs of optimizer
steps with periodic all-rank checkpoints → evaluation and a checkpoint at every epoch end → the
selected checkpoint is scored on the test split → `result.json`. A finished job returns its saved
result; an interrupted one resumes from `latest` at the exact sample where it stopped, at any
world size (`elastic`: same global batch, same sample order, Adam state carried).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hpc_itt import atomic
from hpc_itt.config.schema import DataConfig, TrainConfig
from hpc_itt.data.batching import epoch_batches, eval_batches, padded_fraction
from hpc_itt.data.prepare import data_fingerprint
from hpc_itt.errors import UserError
from hpc_itt.train import checkpoint, distributed
from hpc_itt.train import engine as engine_lib
from hpc_itt.train.head import Head
from hpc_itt.train.models import load_tokenizer
from hpc_itt.train.tb import TBLogger

RESULT = "result.json"


@dataclass
class TrainJob:
    """Everything one training run needs, as plain values (it is pickled into submitit jobs)."""

    name: str
    model_source: str
    head: Head  # the task family: its data, model head, loss and scores
    data: DataConfig
    train: TrainConfig
    out_dir: str
    tb_dir: str | None
    seed: int
    launcher: str = "submitit"
    stop_after_steps: int | None = None  # tests: save and stop here, as a preempted job would
    hparams: dict | None = None  # TensorBoard HParams of this run (grid cells), logged with its test metrics


@dataclass
class TrainState:
    """What a checkpoint must restore besides the engine: where in the data we are."""

    epoch: int = 0
    micro: int = 0  # micro-batches of the current epoch this process consumed
    samples: int | None = None  # samples of the current epoch consumed by all processes (None: saved before it was kept)
    step: int = 0  # optimizer steps
    best: float = float("-inf")
    history: list = field(default_factory=list)


def run(job: TrainJob) -> dict:
    out = Path(job.out_dir)
    if (out / RESULT).is_file():
        return json.loads((out / RESULT).read_text())
    dist = distributed.init(job.launcher)
    cfg = job.train
    head = job.head
    splits = _prepare_data(job, head, dist)
    lengths = splits["train"]["length"]
    ckpt = out / "checkpoints"
    batch = _global_batch(job, checkpoint.peek(ckpt), dist.world_size)
    accum = engine_lib.grad_accum(batch, cfg.micro_batch_size, dist.world_size)
    steps_per_epoch = len(lengths) // batch
    if steps_per_epoch == 0:
        raise UserError(f"{job.name}: {len(lengths)} training rows are fewer than one global batch of {batch} "
                        f"({cfg.micro_batch_size} x {accum} x {dist.world_size} processes)")
    model = head.build_model(job.model_source, job.seed)
    engine = engine_lib.build(model, cfg, dist.world_size, steps_per_epoch * cfg.epochs, batch)
    state = TrainState(**(checkpoint.load(engine, ckpt) or {}).get("train_state", {}))
    if state.samples is not None:  # where the epoch stands at this world size (it may differ from the saved one)
        state.micro = state.samples // (cfg.micro_batch_size * dist.world_size)
    resumed_from = state.step
    tb = TBLogger(job.tb_dir, dist.is_main, purge_step=state.step + 1 if state.step else None)
    steplog = _StepLog(out / "train_log.jsonl", dist.is_main, state.step)
    started = time.time()

    for epoch in range(state.epoch, cfg.epochs):
        batches = epoch_batches(lengths, cfg.micro_batch_size, batch, dist.world_size, job.seed, epoch,
                                job.data.length_grouped)[dist.rank]
        meter = _Meter()
        for micro in range(state.micro, steps_per_epoch * accum):
            # dropout by the micro-batch's place in the epoch's sample order: the same on a resume,
            # at any world size
            torch.manual_seed(_step_seed(job.seed, epoch, micro * dist.world_size + dist.rank))
            inputs = head.to_device(head.collate(_rows(splits["train"], batches[micro])), engine)
            loss = head.loss(engine, inputs)
            engine.backward(loss)
            engine.step()
            meter.add(loss, inputs, head.rows(inputs), batches[micro])
            state.micro = micro + 1
            if state.micro % accum:
                continue
            state.step += 1
            state.samples = state.micro // accum * batch
            if state.step % cfg.log_every_steps == 0:
                _log_train(meter, engine, tb, steplog, state.step, epoch)
            last_of_epoch = state.micro == steps_per_epoch * accum  # saved below anyway
            stopping = bool(job.stop_after_steps) and state.step >= job.stop_after_steps
            if cfg.save_every_steps and state.step % cfg.save_every_steps == 0 and not last_of_epoch and not stopping:
                checkpoint.save(engine, ckpt, f"step{state.step}", {"train_state": asdict(state)},
                                is_main=dist.is_main)
            if stopping:
                checkpoint.save(engine, ckpt, f"step{state.step}", {"train_state": asdict(state)},
                                is_main=dist.is_main)
                tb.close()
                return {"interrupted_at_step": state.step}
        if meter.n:  # steps since the last log line: short epochs still show up in TensorBoard
            _log_train(meter, engine, tb, steplog, state.step, epoch)
        val = evaluate(engine, splits, "validation", head, dist, cfg.micro_batch_size)
        primary = val[head.primary]
        improved = primary > state.best
        state.best = max(state.best, primary)
        state.history.append({"epoch": epoch + 1, "step": state.step, "train_loss": meter.epoch_loss(engine),
                              **{f"val_{k}": v for k, v in val.items()}})
        state.epoch, state.micro, state.samples = epoch + 1, 0, 0
        tb.scalars("eval", val, state.step)
        pointers = (checkpoint.LATEST, checkpoint.BEST) if improved else (checkpoint.LATEST,)
        checkpoint.save(engine, ckpt, f"step{state.step}", {"train_state": asdict(state)}, pointers,
                        is_main=dist.is_main)

    result = _final_result(job, head, engine, splits, dist, state, ckpt)
    result["train_seconds_this_segment"] = round(time.time() - started, 2)
    result["resumed_from_step"] = resumed_from
    return _finish(job, tb, result, state.step, dist)


def evaluate_only(job: TrainJob) -> dict:
    """Score the model from `job.model_source` on the head's test splits without training (Tatoeba:
    zero-shot retrieval from the encoder itself). Same engine, sharding and result.json as `run`."""
    out = Path(job.out_dir)
    if (out / RESULT).is_file():
        return json.loads((out / RESULT).read_text())
    dist = distributed.init(job.launcher)
    head = job.head
    splits = _prepare_data(job, head, dist)
    engine = engine_lib.build(head.build_model(job.model_source, job.seed), job.train, dist.world_size, 1)
    tests = _evaluate_tests(engine, splits, head, dist, job.train.micro_batch_size)
    result = {"name": job.name, "kind": head.kind, "primary_metric": head.primary, "selected": None,
              "validation": {}, **head.test_result(tests), "history": [], "steps": 0,
              "world_size": dist.world_size, "seed": job.seed, "model_source": job.model_source,
              "data": data_fingerprint(splits), "train_config": asdict(job.train)}
    return _finish(job, TBLogger(job.tb_dir, dist.is_main), result, 0, dist)


def _finish(job: TrainJob, tb: TBLogger, result: dict, step: int, dist) -> dict:
    """Test scalars (per language where the head has several test splits) and HParams to
    TensorBoard, then result.json: its presence marks the run finished."""
    tb.scalars("test", result["test"], step)
    for name, scores in result.get("languages", {}).items():
        tb.scalars(f"test/{name}", scores, step)
    if job.hparams:
        tb.hparams(job.hparams, {f"hparam/test_{k}": v for k, v in result["test"].items()}
                   | {f"hparam/validation_{k}": v for k, v in result["validation"].items()})
    tb.close()
    if dist.is_main:
        atomic.write_text(Path(job.out_dir) / RESULT, json.dumps(result, indent=2, default=float))
    distributed.barrier()
    return result


def _log_train(meter, engine, tb, steplog, step: int, epoch: int) -> None:
    logged = meter.flush(engine)  # collective: every rank logs at the same steps
    digest = logged.pop("samples_sha256")
    tb.scalars("train", logged, step)
    steplog.write({"step": step, "epoch": epoch, **logged, "samples_sha256": digest})


def _prepare_data(job: TrainJob, head: Head, dist):
    """Rank 0 loads and tokenizes first; the others then read its `datasets` cache files."""

    def load():
        return head.prepare(load_tokenizer(job.model_source), job.train)

    splits = load() if dist.is_main else None
    distributed.barrier()
    return splits if splits is not None else load()


def _final_result(job, head: Head, engine, splits, dist, state: TrainState, ckpt: Path) -> dict:
    pointer = checkpoint.BEST if job.train.select == "best" else checkpoint.LATEST
    selected = checkpoint.read_pointer(ckpt, pointer)
    if selected != checkpoint.read_pointer(ckpt, checkpoint.LATEST):
        checkpoint.load(engine, ckpt, pointer)
    selected_epoch = next((h for h in state.history if f"step{h['step']}" == selected), state.history[-1])
    tests = _evaluate_tests(engine, splits, head, dist, job.train.micro_batch_size)
    return {
        "name": job.name, "kind": head.kind, "primary_metric": head.primary,
        "selected": {"pointer": pointer, "tag": selected, "epoch": selected_epoch["epoch"]},
        "validation": evaluate(engine, splits, "validation", head, dist, job.train.micro_batch_size),
        **head.test_result(tests),
        "history": state.history, "steps": state.step, "world_size": dist.world_size, "seed": job.seed,
        "model_source": job.model_source, "data": data_fingerprint(splits),
        "train_config": asdict(job.train),
    }


def _evaluate_tests(engine, splits, head: Head, dist, batch_size: int) -> dict[str, dict[str, float]]:
    """Scores of every test split: "test", or one per language ("test/de" → "de"). A split `pool`
    (candidates every language's queries search) is predicted first, into the head, unreported."""
    if "pool" in splits:
        evaluate(engine, splits, "pool", head, dist, batch_size)
    return {name.partition("/")[2] or name: evaluate(engine, splits, name, head, dist, batch_size)
            for name in splits if name == "test" or name.startswith("test/")}


def evaluate(engine, splits, split: str, head: Head, dist, batch_size: int) -> dict[str, float]:
    """Every rank predicts a shard; ranks with fewer batches repeat one so that collective forwards
    (ZeRO-3) stay in step, and the repeats are discarded. Rank 0's order of rows is restored
    before the head scores them, so the score never depends on the world size."""
    ds = splits[split]
    shards = eval_batches(ds["length"], batch_size, dist.world_size)
    mine, rounds = shards[dist.rank], max(len(s) for s in shards)
    indexed = []
    engine.eval()
    with torch.no_grad():
        for i in range(rounds):
            idx = mine[i] if i < len(mine) else (mine or shards[0])[0]
            predictions = head.predict(engine, head.to_device(head.collate(_rows(ds, idx)), engine))
            if i < len(mine):
                indexed += zip(idx, predictions)
    engine.train()
    gathered = [None] * dist.world_size
    if dist.world_size > 1:
        torch.distributed.all_gather_object(gathered, indexed)
    else:
        gathered = [indexed]
    ordered = sorted((pair for part in gathered for pair in part), key=lambda pair: pair[0])
    return head.score(split, ds, [prediction for _, prediction in ordered])


class _Meter:
    """Loss and throughput since the last log line, summed over ranks when logged."""

    def __init__(self):
        self.reset()
        self.epoch_sum, self.epoch_n = 0.0, 0

    def reset(self):
        self.loss, self.n, self.samples, self.tokens, self.pads, self.t0 = 0.0, 0, 0, 0, 0, time.perf_counter()
        self.indices: list[int] = []

    def add(self, loss, batch, rows: int, indices: list[int]):
        self.indices += indices
        pads, total = padded_fraction(batch)
        value = float(loss.detach().float())
        self.loss, self.n = self.loss + value, self.n + 1
        self.epoch_sum, self.epoch_n = self.epoch_sum + value, self.epoch_n + 1
        self.samples += rows
        self.tokens, self.pads = self.tokens + total - pads, self.pads + pads

    def flush(self, engine) -> dict[str, float]:
        totals = _all_reduce([self.loss, self.n, self.samples, self.tokens, self.pads])
        seconds = max(time.perf_counter() - self.t0, 1e-9)
        norm = engine.get_global_grad_norm()
        out = {"loss": totals[0] / max(totals[1], 1), "lr": engine.get_lr()[0],
               "grad_norm": None if norm is None else float(norm),
               "samples_per_s": totals[2] / seconds, "tokens_per_s": totals[3] / seconds,
               "padded_fraction": totals[4] / max(totals[3] + totals[4], 1),
               "samples_sha256": _samples_digest(self.indices)}
        self.reset()
        return out

    def epoch_loss(self, engine) -> float | None:
        """Mean loss of the micro-batches this segment ran; an epoch cut by a requeue counts only
        its resumed part, one resumed exactly at its end has none (None)."""
        totals = _all_reduce([self.epoch_sum, self.epoch_n])
        return totals[0] / totals[1] if totals[1] else None


def _samples_digest(indices: list[int]) -> str:
    """sha256 of the sorted training-row indices all processes consumed since the last log line:
    equal digests at equal steps prove two runs (any world sizes) saw the same samples."""
    gathered = [indices]
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        gathered = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, indices)
    rows = sorted(int(i) for part in gathered for i in part)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _all_reduce(values: list[float]) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64)
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        tensor = tensor.to(device)
        torch.distributed.all_reduce(tensor)
    return tensor.cpu().tolist()


class _StepLog:
    """Per-log-step records on rank 0; a resumed run first drops the lines after its checkpoint."""

    def __init__(self, path: Path, enabled: bool, resume_step: int):
        self.path, self.enabled = path, enabled
        if enabled and path.is_file():
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= resume_step]
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record) + "\n")


def _step_seed(seed: int, epoch: int, micro_batch_index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, micro_batch_index]).generate_state(1)[0])


def _global_batch(job: TrainJob, saved: dict | None, world: int) -> int:
    """A resumed run keeps the global batch its checkpoint was made with, whatever the world size
    now (elastic resume); a new run takes the configured one."""
    return (saved or {}).get("global_batch") or engine_lib.global_batch(job.train, world)


def _rows(ds, indices: list[int]) -> list[dict]:
    columns = ds[indices]
    return [dict(zip(columns, values)) for values in zip(*columns.values())]
