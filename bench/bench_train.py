"""Training throughput of hpc_itt's DeepSpeed loop vs Hugging Face Trainer, and its padding savings.

One run of this script measures
  1. samples/s of `hpc_itt.train.loop.run` and of `transformers.Trainer` (given the very DeepSpeed
     config dict that `hpc_itt.train.engine.ds_config` builds) on the same model, data, micro-batch,
     accumulation, process count, ZeRO stage and precision. Each is a `torchrun` subprocess (this
     script with `--child ours|hf`); the timed window starts after `--warmup` optimizer steps, so
     process start, model load, tokenization and the first (slow) steps are excluded;
  2. the padded-token fraction of hpc_itt's length-grouped batches vs random batches with dynamic
     padding and vs fixed padding to max_length (in-process, no training);
and prints a summary table, also written as JSON to bench/results/<timestamp>.json.

    python bench/bench_train.py            # defaults: minilm-l2, vader-movie, bf16, ZeRO-2, 2 procs
    python bench/bench_train.py --quick    # fewer steps, one repeat
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULT_MARK = "BENCH_RESULT "  # prefix of the one JSON line a child's rank 0 prints on stdout
CHILD_TIMEOUT_S = 1800
BUSY_SHARE = 0.10  # flag runs during which other processes used more than this share of the CPU
FULL = {"steps": 60, "warmup": 10, "repeats": 2}
QUICK = {"steps": 20, "warmup": 5, "repeats": 1}
NOTE = """
Notes: both arms use dynamic padding and length grouping, but not the same grouping. hpc_itt sorts
megabatches of 50 micro-batches and then shuffles their order (hpc_itt/data/batching.py); HF sorts
megabatches of up to 50 batches (fewer on small data), keeps their descending order and deals
neighbouring batches to the ranks, longest batch first, i.e. into the untimed warm-up. Hence
tokens/s next to samples/s, and 'rank imbalance': the sum over steps of the biggest rank's padded
tokens over the mean rank's (every rank waits for the biggest at the gradient reduce)."""


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass
class Settings:
    """Everything both arms share; passed to the children as JSON so they cannot drift apart."""

    model: str
    dataset: str
    precision: str
    zero: int
    nproc: int
    micro_batch: int
    grad_accum: int
    max_length: int
    steps: int  # timed optimizer steps
    warmup: int  # untimed optimizer steps before them
    repeats: int
    seed: int
    lr: float

    @property
    def total_steps(self) -> int:
        return self.warmup + self.steps

    @property
    def global_batch(self) -> int:
        return self.micro_batch * self.grad_accum * self.nproc

    @property
    def train_rows(self) -> int:
        """Exactly one epoch of `total_steps` for both arms: no epoch-end work inside a run."""
        return self.total_steps * self.global_batch

    @property
    def log_every(self) -> int:
        """hpc_itt logs throughput per window of this many steps; the timed window must be a whole
        number of them, starting right at the end of the warm-up."""
        return math.gcd(self.warmup, self.steps)


def parse_args(argv=None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="minilm-l2", help="hpc_itt model asset name or local HF folder")
    p.add_argument("--dataset", default="vader-movie", help="hpc_itt dataset asset name (text + binary label)")
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=2)
    p.add_argument("--nproc", type=int, default=2, help="processes per run (gloo on CPU)")
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--steps", type=int, help=f"timed optimizer steps (default {FULL['steps']})")
    p.add_argument("--warmup", type=int, help=f"optimizer steps excluded from timing (default {FULL['warmup']})")
    p.add_argument("--repeats", type=int, help=f"runs of each arm, interleaved (default {FULL['repeats']})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--quick", action="store_true", help=f"smoke run; defaults become {QUICK}")
    p.add_argument("--wait-idle", type=float, default=120, metavar="SECONDS",
                   help="before each run, wait up to this long for other processes to leave the CPU idle")
    p.add_argument("--child", choices=("ours", "hf"), help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)  # JSON Settings, for --child
    args = p.parse_args(argv)
    if args.settings:
        return Settings(**json.loads(args.settings)), args
    for key, default in (QUICK if args.quick else FULL).items():  # explicit flags win over --quick
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.steps < 1 or args.warmup < 1 or args.repeats < 1:
        p.error("--steps, --warmup and --repeats must be >= 1")
    settings = Settings(model=args.model, dataset=args.dataset, precision=args.precision, zero=args.zero,
                        nproc=args.nproc, micro_batch=args.micro_batch, grad_accum=args.grad_accum,
                        max_length=args.max_length, steps=args.steps, warmup=args.warmup,
                        repeats=args.repeats, seed=args.seed, lr=args.lr)
    return settings, args


# --------------------------------------------------------------------------- shared setup (parent and children)


def model_source(name: str) -> str:
    if Path(name).is_dir():
        return name
    from hpc_itt.assets import model_asset

    return str(model_asset(name))


def dataset_spec(name: str):
    """A DatasetSpec for one offline asset; every hpc_itt dataset asset has `text` and a binary `label`."""
    from hpc_itt.config.schema import DatasetSpec, SourceSpec

    return DatasetSpec(description=name, num_labels=2,
                       offline=SourceSpec(asset=name, text_fields=["text"], label_field="label"))


def data_config():
    from hpc_itt.config.schema import DataConfig

    return DataConfig(source="offline")


def train_config(s: Settings, max_train: int | None):
    from hpc_itt.config.schema import TrainConfig

    return TrainConfig(epochs=1, lr=s.lr, micro_batch_size=s.micro_batch, grad_accum=s.grad_accum,
                       max_length=s.max_length, zero_stage=s.zero, precision=s.precision,
                       log_every_steps=s.log_every, max_train_examples=max_train,
                       max_eval_examples=8 * s.nproc)  # evaluation is never reached: keep it tiny


def tokenized(s: Settings, max_train: int | None):
    """hpc_itt's own split + tokenization (cached by `datasets`, so a second call is a cache read)."""
    from hpc_itt.data.prepare import prepare
    from hpc_itt.train.models import load_tokenizer

    source = model_source(s.model)
    cfg = train_config(s, max_train)
    return prepare(dataset_spec(s.dataset), "classification", data_config(), load_tokenizer(source),
                   s.max_length, cfg.max_train_examples, cfg.max_eval_examples)


def print_result(payload: dict) -> None:
    print(RESULT_MARK + json.dumps(payload), flush=True)


# --------------------------------------------------------------------------- child: hpc_itt


def child_ours(s: Settings) -> None:
    """hpc_itt's loop, stopped right after the last timed step (its `stop_after_steps` test hook), so
    no evaluation runs; the throughput comes from the loop's own `train_log.jsonl` windows."""
    import torch

    from hpc_itt.train import distributed
    from hpc_itt.train.loop import TrainJob, run

    out = Path(tempfile.mkdtemp(prefix="bench-ours-", dir=os.environ.get("BENCH_TMP")))
    from hpc_itt.train.head import SequenceHead

    job = TrainJob(name="bench", model_source=model_source(s.model),
                   head=SequenceHead(dataset_spec(s.dataset), data_config(), "classification", 2), data=data_config(), train=train_config(s, s.train_rows),
                   out_dir=str(out), tb_dir=None, seed=s.seed, stop_after_steps=s.total_steps)
    outcome = run(job)
    if torch.distributed.get_rank() == 0:
        print_result({**window_from_train_log(out / "train_log.jsonl", s), "outcome": outcome})
    distributed.barrier()
    distributed.shutdown()
    if os.environ.get("RANK", "0") == "0":
        shutil.rmtree(out, ignore_errors=True)  # its step checkpoint is only a stop marker here


def window_from_train_log(path: Path, s: Settings) -> dict:
    """Each record's rates cover the `log_every` steps since the previous record, summed over
    ranks; the records after the warm-up tile the timed interval. The loop logs rates only, so
    seconds, tokens and pads are recovered from them (window samples are known)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    timed = [r for r in records if r["step"] > s.warmup]
    window_samples = s.log_every * s.global_batch
    seconds = [window_samples / r["samples_per_s"] for r in timed]
    tokens = [r["tokens_per_s"] * sec for r, sec in zip(timed, seconds)]
    pads = [r["padded_fraction"] / (1 - r["padded_fraction"]) * tok for r, tok in zip(timed, tokens)]
    steps = timed[-1]["step"] - s.warmup if timed else 0
    return {"samples": steps * s.global_batch, "seconds": sum(seconds), "steps": steps,
            "tokens": round(sum(tokens)), "padded_fraction": sum(pads) / max(sum(tokens) + sum(pads), 1),
            "mean_train_loss": sum(r["loss"] for r in records) / len(records)}


# --------------------------------------------------------------------------- child: Hugging Face Trainer


def child_hf(s: Settings) -> None:
    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from hpc_itt.train.distributed import _skip_shm_op_build
    from hpc_itt.train.engine import ds_config
    from hpc_itt.train.models import build_task_model, load_tokenizer

    on_cpu = not torch.cuda.is_available()
    # Same treatment as hpc_itt: DeepSpeed's CPU comm backend would otherwise JIT-compile an
    # inference-only shared-memory op at process-group init (slow, and it needs a compiler).
    _skip_shm_op_build()
    source = model_source(s.model)
    tokenizer = load_tokenizer(source)
    train = tokenized(s, s.train_rows)["train"]  # the parent already filled the cache
    model = build_task_model(source, 2, "classification", s.seed)
    timer = step_timer(s.warmup)
    cfg = train_config(s, s.train_rows)
    out = tempfile.mkdtemp(prefix="bench-hf-", dir=os.environ.get("BENCH_TMP"))
    args = TrainingArguments(
        output_dir=out, deepspeed=ds_config(cfg, s.nproc),
        use_cpu=on_cpu, ddp_backend="gloo" if on_cpu else None,
        bf16=s.precision == "bf16", per_device_train_batch_size=s.micro_batch,
        gradient_accumulation_steps=s.grad_accum, max_steps=s.total_steps,
        # hpc_itt's optimizer and schedule: torch AdamW, linear warm-up then linear decay
        optim="adamw_torch", learning_rate=cfg.lr, weight_decay=cfg.weight_decay, max_grad_norm=cfg.grad_clip,
        lr_scheduler_type="linear", warmup_steps=int(round(cfg.warmup_ratio * s.total_steps)),
        **length_grouping_kwargs(TrainingArguments),  # reads our "length" column
        logging_steps=s.log_every,  # the same logging cadence (and its loss all-reduce) as ours
        # BertForSequenceClassification.forward takes **kwargs, so Trainer assumes it normalises by
        # num_items_in_batch and multiplies the (plain mean) loss by the process count: 2x loss and
        # gradients with 2 processes. Off, HF optimises the same objective as hpc_itt.
        average_tokens_across_devices=False,
        save_strategy="no", eval_strategy="no", report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, dataloader_pin_memory=not on_cpu, seed=s.seed,
    )
    collator = CountingCollator(DataCollatorWithPadding(tokenizer))
    trainer = Trainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                      data_collator=collator, callbacks=[timer])
    outcome = trainer.train()
    real, padded = collator.timed_totals(s.warmup * s.grad_accum, s.total_steps * s.grad_accum)
    if trainer.is_world_process_zero():
        steps = timer.last_step - s.warmup
        print_result({"samples": steps * s.global_batch, "seconds": timer.t1 - timer.t0, "steps": steps,
                      "tokens": real, "padded_fraction": 1 - real / max(padded, 1),
                      "mean_train_loss": outcome.training_loss,
                      "distributed_type": str(trainer.accelerator.distributed_type),
                      "autocast": trainer.accelerator.native_amp,
                      # proof that the DeepSpeed path ran (and which optimizer wrapper it used)
                      "engine": type(trainer.model_wrapped).__name__,
                      "optimizer": type(trainer.optimizer).__name__,
                      "param_dtype": str(next(trainer.model_wrapped.parameters()).dtype)})
        shutil.rmtree(out, ignore_errors=True)


def length_grouping_kwargs(arguments_cls) -> dict:
    """transformers 5 replaced `group_by_length=True` by `train_sampling_strategy`."""
    fields = {f.name for f in dataclasses.fields(arguments_cls)}
    return ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in fields
            else {"group_by_length": True})


class CountingCollator:
    """Records (real, padded) tokens of every micro-batch this rank collates, in order, so the
    timed window's token count is known: HF puts the longest batches first, i.e. into the warm-up,
    so its timed samples can be shorter on average than ours."""

    def __init__(self, inner):
        self.inner, self.counts = inner, []

    def __call__(self, features):
        batch = self.inner(features)
        mask = batch["attention_mask"]
        self.counts.append((int(mask.sum()), int(mask.numel())))
        return batch

    def timed_totals(self, first: int, end: int) -> tuple[int, int]:
        """Sum over micro-batches [first, end) of every rank (a collective: all ranks call it)."""
        import torch

        totals = torch.tensor([sum(c[i] for c in self.counts[first:end]) for i in (0, 1)], dtype=torch.float64)
        if torch.cuda.is_available():
            totals = totals.cuda()  # nccl reduces only device tensors
        if torch.distributed.is_initialized():
            torch.distributed.all_reduce(totals)
        return int(totals[0]), int(totals[1])


def step_timer(warmup: int):
    """A TrainerCallback that clocks the end of the last warm-up step and of every step after it
    (like ours: the window ends right after the last optimizer step)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.t0, self.t1, self.last_step = None, None, 0

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            if state.global_step == warmup:
                self.t0 = now
            self.t1, self.last_step = now, state.global_step

    return StepTimer()


# --------------------------------------------------------------------------- parent: throughput runs


def child_env() -> dict:
    import torch

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore::FutureWarning",
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    if not torch.cuda.is_available():
        env["DS_ACCELERATOR"] = "cpu"
    return env


def launch(mode: str, s: Settings, log_path: Path) -> dict:
    """One torchrun run; returns the child's result, or {"error": <its last error line>}."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={s.nproc}",
           str(Path(__file__).resolve()), "--child", mode, "--settings", json.dumps(dataclasses.asdict(s))]
    started, cpu0 = time.time(), cpu_seconds()
    try:
        proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as err:
        stdout, stderr, rc = _text(err.stdout), _text(err.stderr), f"timeout after {CHILD_TIMEOUT_S} s"
    others = other_cpu_share(cpu0, cpu_seconds(), time.time() - started)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")
    results = [json.loads(line[len(RESULT_MARK):]) for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if rc != 0 or not results:
        return {"error": f"exit {rc}: {error_line(stderr + stdout)}", "log": str(log_path), "other_cpu_share": others}
    r = results[-1]
    return {**r, "samples_per_s": r["samples"] / r["seconds"], "tokens_per_s": r["tokens"] / r["seconds"],
            # real + pad tokens per second: what the model computes on
            "processed_tokens_per_s": r["tokens"] / (1 - r["padded_fraction"]) / r["seconds"],
            "wall_s_incl_startup": round(time.time() - started, 1), "other_cpu_share": others, "log": str(log_path)}


def wait_for_quiet(max_wait_s: float, probe_s: float = 2.0) -> None:
    """On a shared machine, start a run only once other processes leave the CPU (almost) idle,
    waiting at most max_wait_s; a run that starts busy anyway is flagged by other_cpu_share."""
    deadline, told = time.time() + max_wait_s, False
    while True:
        before, t0 = cpu_seconds(), time.time()
        time.sleep(probe_s)
        share = other_cpu_share(before, cpu_seconds(), time.time() - t0)
        if share is None or share < BUSY_SHARE:
            return
        if time.time() >= deadline:
            print(f"  (other processes still use {share:.0%} of the CPU; running anyway)", flush=True)
            return
        if not told:
            print(f"  (other processes use {share:.0%} of the CPU; waiting up to {max_wait_s:.0f} s)", flush=True)
            told = True
        time.sleep(3)


def cpu_seconds() -> tuple[float, float] | None:
    """(CPU seconds this machine has been busy, CPU seconds of our finished children), Linux only."""
    import resource

    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy / os.sysconf("SC_CLK_TCK"), children.ru_utime + children.ru_stime


def other_cpu_share(before, after, wall_s: float) -> float | None:
    """Share of the machine's CPU that processes other than this benchmark used during a run: a
    run with a large share (another job on the machine) measured a contended machine."""
    if before is None or after is None:
        return None
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, others / (wall_s * (os.cpu_count() or 1)))


def _text(data) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def error_line(output: str) -> str:
    """The most telling line of a crashed child: a worker's last exception line (torchrun prefixes
    them with "[rankN]: " and then adds its own ChildFailedError, which says nothing), else the last line."""
    lines = [re.sub(r"^\[rank\d+\]:\s*", "", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if (" " not in head and head.endswith(("Error", "Exception", "Interrupt"))
                and "ChildFailedError" not in head):
            return line[:400]
    return lines[-1][:400] if lines else "no output"


def throughput(s: Settings, stamp: str, wait_idle_s: float) -> dict[str, list[dict]]:
    """Interleave the arms (ours, hf, ours, hf, ...) so that slow drift of the machine hits both."""
    runs: dict[str, list[dict]] = {"ours": [], "hf": []}
    for repeat in range(s.repeats):
        for mode in ("ours", "hf"):
            wait_for_quiet(wait_idle_s)
            result = launch(mode, s, RESULTS_DIR / "logs" / f"{stamp}-{mode}-{repeat + 1}.log")
            runs[mode].append(result)
            print(f"  repeat {repeat + 1}/{s.repeats} {mode:>4}: {describe_run(result)}", flush=True)
    return runs


def describe_run(result: dict) -> str:
    if "error" in result:
        return f"FAILED {result['error']} (log: {result['log']})"
    extra = f"; engine {result['engine']}/{result['optimizer']}" if "engine" in result else ""
    share = result.get("other_cpu_share")
    if share is not None and share > BUSY_SHARE:
        extra += f"; BUSY MACHINE: other processes used {share:.0%} of the CPU"
    return (f"{result['samples_per_s']:7.1f} samples/s, {result['tokens_per_s']:6.0f} tokens/s "
            f"({result['samples']} samples, {result['tokens'] / result['samples']:.1f} tokens/sample, "
            f"{result['padded_fraction']:.1%} padded, {result['steps']} steps in {result['seconds']:.2f} s; "
            f"{result['wall_s_incl_startup']} s with startup{extra})")


def counted(results: list[dict]) -> list[dict]:
    """The runs a median is taken over: the successful ones, without those flagged as run on a busy
    machine unless that leaves none (a contended run is slower for reasons unrelated to the code)."""
    ok = [r for r in results if "error" not in r]
    clean = [r for r in ok if (r.get("other_cpu_share") or 0) <= BUSY_SHARE]
    return clean or ok


def median_of(results: list[dict], key: str) -> float | None:
    values = [r[key] for r in counted(results)]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- padding (in-process)


def padding(s: Settings) -> dict:
    """Batch shapes of one epoch over the whole train split, per scheme: the padded-token fraction
    (a micro-batch is padded to its longest row, or to max_length for fixed padding) and the rank
    imbalance (at each optimizer step every rank waits for the one with the biggest batch)."""
    from hpc_itt.data.batching import epoch_batches

    lengths = list(tokenized(s, None)["train"]["length"])
    grouped = epoch_batches(lengths, s.micro_batch, s.micro_batch * s.nproc, s.nproc, s.seed, 0, grouped=True)
    shuffled = epoch_batches(lengths, s.micro_batch, s.micro_batch * s.nproc, s.nproc, s.seed, 0, grouped=False)
    schemes = {"hpc_itt_grouped": (grouped, None), "random_dynamic": (shuffled, None),
               "fixed_max_length": (shuffled, s.max_length), "hf_length_grouped": (hf_rank_batches(lengths, s), None)}
    fractions = {name: pad_fraction(per_rank, lengths, fixed) for name, (per_rank, fixed) in schemes.items()}
    imbalance = {name: rank_imbalance(per_rank, lengths, fixed) for name, (per_rank, fixed) in schemes.items()}
    rows = [i for rank in grouped for batch in rank for i in batch]
    return {"train_rows": len(lengths), "mean_length": sum(lengths[i] for i in rows) / len(rows),
            "fractions": fractions,
            # tokens the model computes on (real + pad) relative to hpc_itt's grouping
            "processed_tokens_vs_grouped": {k: (1 - fractions["hpc_itt_grouped"]) / (1 - v)
                                            for k, v in fractions.items()},
            "rank_imbalance": imbalance}


def hf_rank_batches(lengths: list[int], s: Settings) -> list[list[list[int]]]:
    """HF's LengthGroupedSampler order: megabatches of up to 50 batches sorted by length and kept in
    that order (longest batch first); accelerate deals consecutive batches to the ranks in turn."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    order = get_length_grouped_indices(lengths, s.micro_batch, generator=torch.Generator().manual_seed(s.seed))
    batches = [order[i:i + s.micro_batch] for i in range(0, len(order) - s.micro_batch + 1, s.micro_batch)]
    usable = len(batches) - len(batches) % s.nproc
    return [batches[r:usable:s.nproc] for r in range(s.nproc)]


def batch_cost(batch: list[int], lengths: list[int], fixed: int | None) -> tuple[int, int]:
    """(real tokens, real + pad tokens) of one micro-batch."""
    rows = [lengths[i] for i in batch]
    return sum(rows), (fixed or max(rows)) * len(rows)


def pad_fraction(per_rank: list[list[list[int]]], lengths: list[int], fixed: int | None = None) -> float:
    costs = [batch_cost(b, lengths, fixed) for rank in per_rank for b in rank]
    return 1 - sum(c[0] for c in costs) / sum(c[1] for c in costs)


def rank_imbalance(per_rank: list[list[list[int]]], lengths: list[int], fixed: int | None = None) -> float:
    """Sum over steps of the biggest rank's padded tokens / of the mean rank's (1.0 = no waiting)."""
    steps = [[batch_cost(b, lengths, fixed)[1] for b in step] for step in zip(*per_rank)]
    return sum(max(step) for step in steps) / sum(sum(step) / len(step) for step in steps)


# --------------------------------------------------------------------------- report


def summary(s: Settings, runs: dict, pads: dict) -> tuple[str, dict]:
    ours, hf = median_of(runs["ours"], "samples_per_s"), median_of(runs["hf"], "samples_per_s")
    ours_tok, hf_tok = median_of(runs["ours"], "tokens_per_s"), median_of(runs["hf"], "tokens_per_s")
    ratio = ours / hf if ours and hf else None
    ratio_tok = ours_tok / hf_tok if ours_tok and hf_tok else None
    hf_error = next((r["error"] for r in runs["hf"] if "error" in r), "")
    f, imb, proc = pads["fractions"], pads["rank_imbalance"], pads["processed_tokens_vs_grouped"]
    all_runs = runs["ours"] + runs["hf"]
    busy = [r for r in all_runs if (r.get("other_cpu_share") or 0) > BUSY_SHARE]
    rows = [
        (f"hpc_itt loop, samples/s (median of {len(counted(runs['ours']))})", num(ours)),
        (f"HF Trainer, samples/s (median of {len(counted(runs['hf']))})",
         num(hf) if hf else f"FAILED: {hf_error[:80]}"),
        ("ratio hpc_itt / HF, samples/s", times(ratio)),
        ("hpc_itt loop, real tokens/s (median)", num(ours_tok, 0)),
        ("HF Trainer, real tokens/s (median)", num(hf_tok, 0)),
        ("ratio hpc_itt / HF, tokens/s", times(ratio_tok)),
        ("padded tokens, hpc_itt grouped", f"{f['hpc_itt_grouped']:.1%}"),
        ("padded tokens, random + dynamic pad", f"{f['random_dynamic']:.1%}  "
                                                f"({f['random_dynamic'] / f['hpc_itt_grouped']:.1f}x grouped)"),
        ("padded tokens, fixed max_length", f"{f['fixed_max_length']:.1%}  "
                                            f"({f['fixed_max_length'] / f['hpc_itt_grouped']:.1f}x grouped)"),
        ("padded tokens, HF length-grouped", f"{f['hf_length_grouped']:.1%}"),
        ("tokens computed, random / grouped", times(proc["random_dynamic"])),
        ("tokens computed, fixed / grouped", times(proc["fixed_max_length"])),
        ("rank imbalance, hpc_itt grouped", times(imb["hpc_itt_grouped"], 3)),
        ("rank imbalance, HF length-grouped", times(imb["hf_length_grouped"], 3)),
        (f"runs on a busy machine (others > {BUSY_SHARE:.0%} CPU)",
         f"{len(busy)} of {len(all_runs)}" + (" (left out of the medians where a clean run exists)" if busy else "")),
    ]
    width = max(len(r[0]) for r in rows)
    text = "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
    data = {"settings": dataclasses.asdict(s), "machine": machine(),
            "throughput": {"ours": runs["ours"], "hf": runs["hf"],
                           "ours_median_samples_per_s": ours, "hf_median_samples_per_s": hf,
                           "ratio_ours_over_hf": ratio, "ours_median_tokens_per_s": ours_tok,
                           "hf_median_tokens_per_s": hf_tok, "ratio_tokens_ours_over_hf": ratio_tok,
                           "busy_share_threshold": BUSY_SHARE},
            "padding": pads}
    return text, data


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def times(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def machine() -> dict:
    from importlib.metadata import (
        version,  # not `import deepspeed`: it logs accelerator probing
    )

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU x{os.cpu_count()}"
    return {"device": device, "torch": torch.__version__, "deepspeed": version("deepspeed"),
            "transformers": version("transformers"), "python": sys.version.split()[0]}


def parent(s: Settings, wait_idle_s: float) -> None:
    from hpc_itt.train.engine import ds_config

    stamp = time.strftime("%Y%m%d-%H%M%S")
    print(f"settings: {dataclasses.asdict(s)}")
    print(f"DeepSpeed config (both arms): {json.dumps(ds_config(train_config(s, s.train_rows), s.nproc))}")
    print("\n[padding] whole train split, one epoch of micro-batches")
    pads = padding(s)  # also fills the tokenization cache the children read
    available = pads["train_rows"]
    if available < s.train_rows:
        sys.exit(f"{s.dataset}: {available} training rows, fewer than the {s.train_rows} that "
                 f"{s.total_steps} steps x {s.global_batch} need; lower --steps or --micro-batch")
    tokenized(s, s.train_rows)  # the capped split both children train on, tokenized once here
    print(f"  {available} rows, mean length {pads['mean_length']:.1f} tokens (max_length {s.max_length})")
    print(f"\n[throughput] {s.repeats} x (ours, hf), {s.warmup} warm-up + {s.steps} timed steps of "
          f"{s.global_batch} samples, {s.nproc} procs, ZeRO-{s.zero}, {s.precision}")
    runs = throughput(s, stamp, wait_idle_s)
    text, data = summary(s, runs, pads)
    print(NOTE)
    print("\n=== summary ===\n" + text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwritten: {path}")


def main(argv=None) -> None:
    settings, args = parse_args(argv)
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when `datasets` is imported
    if args.child == "ours":
        child_ours(settings)
    elif args.child == "hf":
        child_hf(settings)
    else:
        parent(settings, args.wait_idle)


if __name__ == "__main__":
    main()
