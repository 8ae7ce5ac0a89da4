"""DeepSpeed engine from a TrainConfig: the ZeRO stage and precision come from config; the
optimizer (torch AdamW) and the warmup + linear-decay schedule are passed in, so no DeepSpeed op
is JIT-compiled and the same code runs on CPU (gloo) and GPU (nccl)."""
from __future__ import annotations

import torch

from hpc_itt.config.schema import TrainConfig
from hpc_itt.errors import UserError


def global_batch(cfg: TrainConfig, world: int) -> int:
    """Samples per optimizer step: the configured global batch, else micro x accum x processes."""
    return cfg.global_batch_size or cfg.micro_batch_size * cfg.grad_accum * world


def grad_accum(global_batch_size: int, micro_batch: int, world: int) -> int:
    """Accumulation steps that keep `global_batch_size` at this world size (elastic resume)."""
    if global_batch_size % (micro_batch * world):
        raise UserError(f"global batch {global_batch_size} cannot be split over {world} processes x micro batch "
                        f"{micro_batch} (valid world sizes divide {global_batch_size // micro_batch})")
    return global_batch_size // (micro_batch * world)


def ds_config(cfg: TrainConfig, world: int, tb_dir: str | None = None, batch: int | None = None) -> dict:
    batch = batch or global_batch(cfg, world)
    config = {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": grad_accum(batch, cfg.micro_batch_size, world),
        "train_batch_size": batch,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": {"stage": cfg.zero_stage},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if cfg.precision == "bf16":
        config["bf16"] = {"enabled": True}
        if cfg.zero_stage >= 1:
            # Accumulating in bf16 under ZeRO diverges (DeepSpeed #2768, #4713): accumulate in fp32.
            # (ZeRO-0 keeps fp32 master weights but accepts no other accumulation dtype.)
            config["data_types"] = {"grad_accum_dtype": "fp32"}
    elif cfg.precision == "fp16":
        config["fp16"] = {"enabled": True, "initial_scale_power": 16, "loss_scale_window": 1000}
    return config


def check_precision(precision: str) -> None:
    if precision == "fp16" and not torch.cuda.is_available():
        raise UserError("precision 'fp16' needs a GPU (no CUDA device here); use precision=bf16 or fp32")


def lr_lambda(total_steps: int, warmup_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def build(model, cfg: TrainConfig, world: int, total_steps: int, batch: int | None = None):
    import deepspeed

    check_precision(cfg.precision)
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    warmup = int(round(cfg.warmup_ratio * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(total_steps, warmup))
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler,
                                           config=ds_config(cfg, world, batch=batch))
    return engine
