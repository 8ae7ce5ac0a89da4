"""A machine without Slurm (a laptop, a fresh CI runner): planning works, and submitting to Slurm
stops in seconds with one line.

Every command here runs with Slurm's binaries absent from PATH, whether or not this machine has
Slurm installed: PATH is a folder of symlinks to a handful of tools (bash, sh, env, git, rsync,
cat, ls) and a `python` that runs this interpreter. Nothing of submitit is mocked; the fake
`sinfo`/`sbatch` below are shell scripts that fail the way Slurm's clients do when no controller
answers."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

SLURM_BINARIES = ("srun", "sbatch", "squeue", "sinfo", "sacct", "scontrol", "scancel", "salloc", "sacctmgr",
                  "slurmctld", "slurmd", "slurmdbd", "slurmstepd", "sstat", "sprio", "sshare", "sreport", "sattach",
                  "sbcast", "strigger", "sdiag")
TOOLS = ("bash", "sh", "env", "git", "rsync", "cat", "ls")
UNREACHABLE = "Unable to contact slurm controller (connect failure)"
SINFO_DOWN = f"slurm_load_partitions: {UNREACHABLE}"
SBATCH_DOWN = f"sbatch: error: Batch job submission failed: {UNREACHABLE}"
# What sbatch prints where no slurm.conf or controller can be found at all: a long block, one fatal line.
SBATCH_FATAL = "\n".join([f"sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host ({i})"
                          for i in range(55)] + ["sbatch: fatal: Could not establish a configuration source"])


def bare_bin(tmp_path: Path, fakes: dict[str, str] | None = None, tools=TOOLS) -> Path:
    """A PATH folder with only `tools`, `python`/`python3` (this interpreter, its venv intact) and
    the given fake Slurm clients (name → shell script body)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    for name in ("python", "python3"):  # a symlink to a venv's python would lose the venv
        script(folder / name, f'exec {sys.executable} "$@"')
    for name, body in (fakes or {}).items():
        script(folder / name, body)
    return folder


def script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def env_with(path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["PATH"] = str(path)
    return env


def submit(path: Path, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "launch/submit.py", *args], cwd=REPO, env=env_with(path),
                            capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def fails_with_one_line(result: subprocess.CompletedProcess, *words: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: --cluster slurm: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_the_bare_path_has_no_slurm(tmp_path):
    env = env_with(bare_bin(tmp_path))
    assert all(shutil.which(b, path=env["PATH"]) is None for b in SLURM_BINARIES)
    out = subprocess.run(["python", "-c", "import sys, submitit; print(sys.prefix)"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == sys.prefix


def test_seed_study_dry_run_prints_plan_sbatch_scripts_and_gpu_hours(tmp_path):
    """The README's example, verbatim, where Slurm is not installed."""
    result, seconds = submit(bare_bin(tmp_path), "--stage", "all", "--config", "configs/studies/seed_study.yaml",
                             "--dry-run", f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs")
    print(f"\nseed-study dry run without Slurm: {seconds:.1f} s")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in result.stderr
    assert "target grid: 180 cells = 3 model(s) x 3 task(s) x 2 target(s) x 2 arm(s) x 5 seed(s)" in out
    for stage in ("intermediate", "consolidate", "target", "report"):
        assert f"#SBATCH --job-name=itt-{stage}" in out
    assert out.count("#!/bin/bash") == 4 and out.count("\nsrun ") == 4
    assert "#SBATCH --array=0-8%9" in out and "#SBATCH --array=0-179%64" in out
    assert "sbatch calls: 4 (intermediate, consolidate, target, report)" in out
    assert "GPU-hours reserved at most (time limits x GPUs): intermediate 1728 " in out and out.rstrip().endswith("= 2448")
    assert not (tmp_path / "exp").exists() and not (tmp_path / "logs").exists()


def test_slurm_submission_without_slurm_stops_in_seconds_with_one_line(tmp_path, tiny_bert):
    result, seconds = submit(bare_bin(tmp_path), "--stage", "all", "--cluster", "slurm", "models=[tiny-bert]",
                             f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs")
    print(f"\n--cluster slurm without Slurm: exit {result.returncode} after {seconds:.1f} s")
    line = fails_with_one_line(result, "no sbatch or srun", "--dry-run", "--cluster local")
    assert seconds < 30, line
    assert not (tmp_path / "exp").exists() and not (tmp_path / "logs").exists()
    assert "prepared" not in result.stdout  # stopped before tokenizing anything


def test_unreachable_controller_stops_before_anything_is_written(tmp_path, tiny_bert):
    """sbatch and srun are there, the controller is not: the `sinfo` probe says so."""
    fakes = {"sinfo": f'echo "{SINFO_DOWN}" >&2; exit 1', "sbatch": f'echo "{SBATCH_DOWN}" >&2; exit 1',
             "srun": "exit 1"}
    result, seconds = submit(bare_bin(tmp_path, fakes), "--stage", "all", "--cluster", "slurm", "models=[tiny-bert]",
                             f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs")
    print(f"\nunreachable controller (sinfo probe): exit {result.returncode} after {seconds:.1f} s")
    fails_with_one_line(result, "controller is not reachable", SINFO_DOWN, "scontrol ping")
    assert seconds < 30
    assert not (tmp_path / "exp").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("stage, sbatch_says, expected", [
    ("consolidate", SBATCH_DOWN, SBATCH_DOWN),  # an array, from the Slurm chain
    ("tensorboard", SBATCH_FATAL, "sbatch: fatal: Could not establish a configuration source"),  # one job
], ids=["unreachable-array", "56-line-fatal-job"])
def test_sbatch_failing_is_one_line(tmp_path, tiny_bert, stage, sbatch_says, expected):
    """No sinfo to probe with and sbatch fails: submitit's FailedJobError, and its own echo of
    sbatch's stderr, become one line. (No rsync: no code snapshot, which is beside the point here.)"""
    (tmp_path / "sbatch.txt").write_text(sbatch_says + "\n")
    fakes = {"sbatch": f'cat "{tmp_path}/sbatch.txt" >&2; exit 1', "srun": "exit 1"}
    tools = [t for t in TOOLS if t != "rsync"]
    result, seconds = submit(bare_bin(tmp_path, fakes, tools), "--stage", stage, "--cluster", "slurm",
                             "models=[tiny-bert]", f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs")
    print(f"\nsbatch failing ({len(sbatch_says.splitlines())} line(s)): exit {result.returncode} after {seconds:.1f} s")
    fails_with_one_line(result, "sbatch failed: " + expected)
    assert seconds < 30


def test_status_of_slurm_jobs_without_sacct_says_unknown(tmp_path):
    from hpc_itt import targets
    from hpc_itt.config.load import load_study
    from hpc_itt.study import plan

    study = load_study(None, [f"output_dir={tmp_path}/exp"], cluster="slurm")
    cells = targets.cells(study)
    folder = plan.cell_dir(study, cells[0])
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"job_id": "123_0", "cluster": "slurm", "stdout": "o", "stderr": "e"}))
    result, _ = submit(bare_bin(tmp_path), "--stage", "status", "--cluster", "slurm", f"output_dir={tmp_path}/exp")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"{len(cells)} cells — {len(cells) - 1} missing, 1 unknown" in result.stdout
    assert "Slurm job states unknown: `sacct` is not on PATH here" in result.stdout
    assert f"unknown   {cells[0].key}  job 123_0" in result.stdout


def test_status_when_sacct_fails_says_unknown(tmp_path, monkeypatch):
    from hpc_itt import targets
    from hpc_itt.config.load import load_study
    from hpc_itt.study import plan, status

    study = load_study(None, [f"output_dir={tmp_path}/exp"], cluster="slurm")
    cell = targets.cells(study)[0]
    plan.cell_dir(study, cell).mkdir(parents=True)
    (plan.cell_dir(study, cell) / "job.json").write_text(json.dumps({"job_id": "7", "cluster": "slurm",
                                                                      "stdout": "o", "stderr": "e"}))
    down = "sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection to host:localhost:6819: Connection refused"
    monkeypatch.setenv("PATH", str(bare_bin(tmp_path, {"sacct": f'echo "{down}" >&2; exit 1'})))
    text = status.table(study)
    assert "1 unknown" in text and f"`sacct` failed (exit 1: {down})" in text


def test_ci_without_slurm_hides_only_slurm(tmp_path):
    """.ci/without-slurm: Slurm's binaries vanish from PATH, every other command stays, in order."""
    fake = tmp_path / "fake"
    fake.mkdir()
    for name in ("sbatch", "srun", "slurmd", "hello"):
        script(fake / name, f"echo {name}")
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", TMPDIR=str(tmp_path))
    check = "command -v hello ls; for b in " + " ".join(SLURM_BINARIES) + '; do command -v "$b" && exit 9; done; hello'
    out = subprocess.run([str(REPO / ".ci" / "without-slurm"), "bash", "-c", check], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    hello, ls, said = out.stdout.split()
    assert Path(hello).resolve() == fake / "hello" and Path(ls).name == "ls" and said == "hello"
