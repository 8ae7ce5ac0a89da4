"""Generated sbatch scripts: golden files, and hostile values (spaces, quotes, $(...), ;) in
names, paths and parameters that stay inert data.

The golden files in tests/golden/ are the reviewed bytes of the generated scripts. A missing or
different golden file fails. After an intended change to the scripts, regenerate them on purpose
and review the diff:

    HPC_ITT_UPDATE_GOLDEN=1 python -m pytest -q tests/test_sbatch.py
    git diff tests/golden/
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hpc_itt.config.load import load_study
from hpc_itt.backends.slurm.preview import sbatch_script
from slurm_cluster import slurm_cluster  # noqa: F401 - the fixture

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("HPC_ITT_UPDATE_GOLDEN") == "1"
REGENERATE = "regenerate on purpose with `HPC_ITT_UPDATE_GOLDEN=1 python -m pytest -q tests/test_sbatch.py`, " \
             "then review `git diff tests/golden/`"
HOSTILE_DIR = "/tmp/it's a $(touch PWNED) dir;`id`"
HOSTILE = [f"output_dir={HOSTILE_DIR}", "cluster.partition=gpu $(touch PWNED)", "cluster.account=o'brien \"lab\"",
           "cluster.qos=normal;reboot", "cluster.extra_sbatch={comment: '$(rm -rf ~) `x`'}", "cluster.gpus_per_node=4",
           "cluster.tasks_per_node=4", "cluster.nodes=2"]


def render(stage, placeholder=True, **kw):
    study = load_study(None, HOSTILE, profile="slurm")
    study.output_dir = HOSTILE_DIR
    text = sbatch_script(study, stage, **kw)
    return text.replace(sys.executable, "<python>") if placeholder else text


def golden_text(name: str) -> str:
    """A golden file's bytes; a missing one fails (it is never recorded silently)."""
    golden = GOLDEN / name
    if not golden.is_file():
        pytest.fail(f"golden file {golden} is missing; {REGENERATE}", pytrace=False)
    return golden.read_text()


@pytest.mark.parametrize("stage, kw", [("intermediate", {}), ("consolidate", {"dependency": "aftercorr:123"}),
                                       ("target", {"array": 180, "dependency": "afterok:124"})])
def test_sbatch_matches_golden_file(stage, kw):
    """Only HPC_ITT_UPDATE_GOLDEN=1 (re)writes tests/golden/sbatch_<stage>.txt."""
    text = render(stage, **kw)
    name = f"sbatch_{stage}.txt"
    if UPDATE_GOLDEN:
        (GOLDEN / name).write_text(text)
    assert text == golden_text(name), f"the {stage} sbatch script differs from tests/golden/{name}; if the " \
                                      f"change is intended, {REGENERATE}"


def test_the_preview_needs_no_slurm_client(tmp_path, monkeypatch):
    """submitit's SlurmExecutor refuses to exist without `srun` on PATH; the preview is built from
    the same executor as a submission, without that check: same bytes, Slurm installed or not."""
    import shutil

    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("srun") is None and shutil.which("sbatch") is None
    assert render("target", array=180, dependency="afterok:124") == golden_text("sbatch_target.txt")


def test_a_batch_of_one_is_previewed_as_submitit_submits_it():
    """submitit submits a batch of one as a plain job (no --array, %j paths), not an array of 1."""
    one, many = render("consolidate", array=1), render("consolidate", array=2)
    assert one == render("consolidate") and "--array" not in one and "#SBATCH --array=0-1%2" in many


@pytest.mark.parametrize("stage", ["intermediate", "target"])
def test_hostile_values_are_single_quoted_words(stage):
    text = render(stage, array=4 if stage == "target" else None)
    values = {}
    for line in text.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, raw = line[len("#SBATCH --"):].partition("=")
            words = shlex.split(raw)
            assert len(words) <= 1, line  # one shell word: nothing splits or expands
            values[key] = words[0] if words else True
    assert values["partition"] == "gpu $(touch PWNED)"
    assert values["account"] == "o'brien \"lab\"" and values["qos"] == "normal;reboot"
    assert values["comment"] == "$(rm -rf ~) `x`"
    assert values["output"].startswith(HOSTILE_DIR)
    srun = next(line for line in text.splitlines() if line.startswith("srun "))
    assert any(word.startswith(HOSTILE_DIR) for word in shlex.split(srun))
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)  # valid shell


def test_the_script_body_runs_without_executing_anything_hostile(tmp_path):
    """Run the generated command section with a stub srun: the hostile strings arrive as
    arguments and no command substitution runs."""
    text = render("intermediate", placeholder=False)
    body = text[text.index("# command"):]
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "srun").write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$ARGS_OUT"\n')
    (stub / "srun").chmod(0o755)
    out = tmp_path / "args.txt"
    subprocess.run(["bash", "-c", body], cwd=tmp_path, check=True,
                   env={"PATH": f"{stub}:/usr/bin:/bin", "ARGS_OUT": str(out)})
    args = out.read_text().splitlines()
    assert any(a.startswith(HOSTILE_DIR) for a in args)
    assert not list(tmp_path.glob("PWNED")) and not Path("PWNED").exists()


@pytest.mark.slurm
@pytest.mark.slow
def test_real_sbatch_accepts_a_hostile_folder(slurm_cluster, tmp_path):  # noqa: F811
    """sbatch's own #SBATCH parser (not bash) reads the quoted --output/--error paths."""
    from hpc_itt import backends
    from hpc_itt.backends.base import JobShape

    study = load_study(None, [f"output_dir={tmp_path}"], profile="local-slurm")
    folder = tmp_path / "it's a $(touch PWNED) dir" / "%j"
    executor = backends.of(study.cluster).executor(study.cluster, folder, JobShape.single(study.cluster),
                                                   "hostile 'name' $(x)")
    job = executor.submit(sorted, [3, 1, 2])
    assert job.result() == [1, 2, 3]
    assert job.paths.stdout.is_file() and str(job.paths.stdout).startswith(str(tmp_path / "it's a $(touch PWNED) dir"))
    assert not list(tmp_path.rglob("PWNED"))
