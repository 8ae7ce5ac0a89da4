"""`python launch/submit.py`: the one entry point. Validates everything at the edge, then runs or
submits the requested stage(s). User errors print one line and exit with code 2."""
from __future__ import annotations

import argparse
import os
import sys
import typing

from hpc_itt.errors import UserError

DESCRIPTION = """\
Intermediate-task training (ITT) studies on DeepSpeed, locally or on Slurm.

stages:
  prepare       resolve models (hub check / download on this node) and tokenize every dataset
                into the `datasets` cache that all jobs share
  intermediate  train each model on each task's intermediate dataset (multi-process DeepSpeed
                job, ZeRO and precision from config), then consolidate the ZeRO checkpoint into
                one Hugging Face checkpoint
  consolidate   (re)consolidate finished intermediate runs only
  target        the target grid: models x tasks x targets x seeds x {itt, no_itt}; one
                single-process job per cell; done cells are skipped, so a rerun runs only
                missing or failed cells
  report        mean ± std over seeds and delta (with - without ITT) as Markdown and CSV
  all           prepare -> intermediate -> consolidate -> target -> report
  status        every cell: done / pending / running / failed / missing, with job ids and logs
  tensorboard   a TensorBoard server over the experiment's logs, bound to 127.0.0.1 (--port);
                on Slurm a small job whose log prints the ssh -L command to reach it

The default --config is the embedded quickstart: a small real English BERT (all-MiniLM-L6-v2,
first 2 layers) on real sentiment text, which runs on a laptop CPU in minutes.
"""

EPILOG = """\
overrides (key=value, YAML values, applied last):
  intermediate.epochs=100  target.lr=2e-5  seeds=[1,2,3]  models=[bert-base,xlnet-base]
  cluster.tasks_per_node=4  data.source=hub  output_dir=outputs/mine

examples:
  python launch/submit.py --stage all --cluster local
  python launch/submit.py --stage intermediate --model xlnet
  python launch/submit.py --stage all --config configs/studies/seed_study.yaml --dry-run
"""


def parser() -> argparse.ArgumentParser:
    from hpc_itt.backends import BACKENDS
    from hpc_itt.study.pipeline import STAGES

    p = argparse.ArgumentParser(prog="launch/submit.py", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", default="all", help=f"one of: {', '.join(STAGES)} (default: all)")
    p.add_argument("--config", default=None, help="study YAML (default: configs/studies/quickstart.yaml)")
    p.add_argument("--model", action="append", default=None,
                   help="run only this model (registry name or alias, e.g. xlnet); repeatable")
    p.add_argument("--task", action="append", default=None, help="run only this task; repeatable")
    p.add_argument("--cluster", default=None, help=f"backend: {', '.join(BACKENDS)} (default: the profile's; "
                   f"local: subprocesses here, debug: in-process, slurm: sbatch)")
    p.add_argument("--profile", default=None, help="cluster profile in configs/cluster/ (default: the --cluster name)")
    p.add_argument("--launcher", default=None,
                   help="how ranks find each other: submitit (Slurm/local job env, default) or mpi (mpi4py; "
                        "srun --mpi=pmix or mpirun)")
    p.add_argument("--port", default="6006", help="TensorBoard port for --stage tensorboard (default 6006)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (jobs, cells, output dirs); submit nothing")
    p.add_argument("--rerun-changed", action="store_true",
                   help="retrain runs and cells whose results were made with other settings (their old folders "
                        "move to <output_dir>/superseded/); without it such a rerun stops and names the changes")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")  # torch 2.13 warns on every ZeRO collective
    args = parser().parse_intermixed_args(argv)
    try:
        return run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run(args) -> int:
    from hpc_itt import backends
    from hpc_itt.backends import BACKENDS
    from hpc_itt.config.load import load_study, resolve_model
    from hpc_itt.config.schema import Launcher
    from hpc_itt.errors import choices
    from hpc_itt.study import pipeline

    if args.stage not in pipeline.STAGES:
        raise UserError(f"unknown stage {args.stage!r} (valid: {choices(pipeline.STAGES)})")
    if args.cluster is not None and args.cluster not in BACKENDS:
        raise UserError(f"unknown cluster {args.cluster!r} (valid: {choices(BACKENDS)})")
    overrides = list(args.overrides)
    if args.model:
        names = [resolve_model(m).name for m in args.model]  # aliases → registry names
        overrides.append(f"models=[{','.join(names)}]")
    if args.launcher:
        if args.launcher not in typing.get_args(Launcher):
            raise UserError(f"unknown launcher {args.launcher!r} (valid: {choices(typing.get_args(Launcher))})")
        overrides.append(f"cluster.launcher={args.launcher}")
    if args.task:
        overrides.append(f"tasks=[{','.join(args.task)}]")
    study = load_study(args.config, overrides, cluster=args.cluster, profile=args.profile)
    study.output_dir = os.path.abspath(study.output_dir)  # jobs may start in another directory
    study.logdir = os.path.abspath(study.logdir)
    if not study.cluster.gpus_per_node:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # no GPU asked for: don't let DeepSpeed probe for one
    from hpc_itt.console import quiet_progress

    quiet_progress()
    port = _port(args.port)
    if not args.dry_run and args.stage not in ("status", "tensorboard"):
        for key in ("output_dir", "logdir"):
            _check_writable(getattr(study, key), key)
    if args.dry_run:
        from hpc_itt.study.dryrun import describe

        print(describe(study, args.stage))
        preview = backends.of(study.cluster).preview(study, args.stage)
        if preview:
            print("\n" + preview)
        return 0
    return pipeline.execute(study, args.stage, port=port, rerun_changed=args.rerun_changed)


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UserError(f"--port {raw!r} is not a TCP port (valid: 1-65535)")
    return port


def _check_writable(path: str, key: str) -> None:
    """The folder exists or can be made, and this process can write into it: checked by making a
    temporary file, since permission bits do not tell (root, read-only mounts, immutable folders)."""
    import tempfile
    from pathlib import Path

    wanted = Path(path)
    existing = wanted
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == wanted else f"is under {existing}, which is a file"
        raise UserError(f"{key} {wanted} {what}, not a folder (set {key}=<a folder>)")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UserError(f"{key} {wanted} is not writable ({existing}: {err.strerror}); set {key}=<a writable folder>") from None


if __name__ == "__main__":
    sys.exit(main())
