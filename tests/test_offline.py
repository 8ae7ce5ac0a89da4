"""Offline compute nodes. `--stage prepare` fetches every file a job needs — for xlnet/xlnet-base-cased
that is `pytorch_model.bin`, the only weights its main branch has — and jobs then run with
HF_HUB_OFFLINE=1. The hub is out of reach here, so the tests build the hub cache exactly as
`snapshot_download` leaves it (`models--<org>--<name>/snapshots/<commit>/`, `refs/main`), at the
commit pinned in configs/models.yaml, with a tiny XLNet's weights saved as a PyTorch `.bin`."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import contract
import pytest
import torch
from conftest import REPO

from hpc_itt.config.load import resolve_model
from hpc_itt.train.models import weight_files

SMALL = ["intermediate.epochs=1", "intermediate.max_train_examples=64", "intermediate.max_eval_examples=32",
         "intermediate.lr=3e-3", "target.epochs=1", "target.max_train_examples=32", "target.max_eval_examples=32",
         "seeds=[1]", "targets=[domain]"]


@pytest.mark.parametrize("name", ["bert-base", "roberta-base", "xlnet-base", "mbert", "xlmr-base", "xlmr-large"])
def test_prepare_downloads_the_weights_each_repository_has(name):
    """The files recorded for each model repository (tests/hub_contract): safetensors where the
    repository has them, else the PyTorch .bin (xlnet-base-cased), never nothing."""
    spec = resolve_model(name)
    recorded = contract.load(spec.hub_id)
    assert recorded["revision"] == spec.revision  # configs load the commit the contract was read at
    chosen = weight_files(recorded["files"])
    assert chosen, recorded["files"]
    if any(f.endswith(".safetensors") for f in recorded["files"]):
        assert chosen == ["model.safetensors"]
    else:
        assert chosen == ["pytorch_model.bin"]
    assert set(chosen) <= set(recorded["weights"])


def test_sharded_and_odd_repositories():
    assert weight_files(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                         "model.safetensors.index.json", "pytorch_model.bin"]) == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert weight_files(["onnx/model.onnx", "config.json", "tf_model.h5"]) == []
    assert weight_files(["flax_model.msgpack", "pytorch_model.bin", "onnx/model.safetensors"]) == ["pytorch_model.bin"]


def _hub_cache(root: Path) -> Path:
    """xlnet/xlnet-base-cased at its pinned commit, .bin weights only (tiny-xlnet's, as XLNetLMHeadModel
    like the real file), laid out as huggingface_hub's cache."""
    from transformers import XLNetLMHeadModel

    from hpc_itt.assets import model_asset

    spec = resolve_model("xlnet-base")
    repo = root / ("models--" + spec.hub_id.replace("/", "--"))
    snapshot = repo / "snapshots" / spec.revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(spec.revision)
    tiny = model_asset("tiny-xlnet")
    torch.save(XLNetLMHeadModel.from_pretrained(tiny).state_dict(), snapshot / "pytorch_model.bin")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny / name, snapshot / name)
    return snapshot


def _offline_env(cache: Path) -> dict:
    env = dict(os.environ, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.pop("HF_HOME", None)
    return env


def _submit(tmp: Path, env: dict, *args):
    cmd = [sys.executable, "launch/submit.py", "--cluster", "local", f"output_dir={tmp}/exp", f"logdir={tmp}/logs",
           "data.source=offline", *SMALL, *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_users_xlnet_example_runs_on_an_offline_node(tmp_path):
    snapshot = _hub_cache(tmp_path / "hub")
    env = _offline_env(tmp_path / "hub")
    result = _submit(tmp_path, env, "--stage", "intermediate", "--model", "xlnet")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ready = json.loads((tmp_path / "exp" / "readiness.json").read_text())
    model = ready["models"]["xlnet-base"]
    assert model["revision"] == resolve_model("xlnet-base").revision and ready["offline_check"] == "passed"
    assert str(snapshot / "pytorch_model.bin") in model["files"]
    consolidated = tmp_path / "exp/intermediate/xlnet-base/sentiment/consolidated"
    assert (consolidated / "model.safetensors").is_file()  # what the target jobs load is safetensors again
    record = json.loads((tmp_path / "exp/intermediate/xlnet-base/sentiment/settings.json").read_text())
    assert record["settings"]["model.source"] == "xlnet/xlnet-base-cased"
    assert record["settings"]["model.revision"] == resolve_model("xlnet-base").revision

    # one weight file purged from the cache: the next submission stops with one line naming it
    (snapshot / "pytorch_model.bin").unlink()
    again = _submit(tmp_path, env, "--stage", "target", "--model", "xlnet")
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert again.returncode == 2 and len(lines) == 1, again.stderr
    assert str(snapshot / "pytorch_model.bin") in lines[0] and "--stage prepare" in lines[0]


@pytest.mark.slow
def test_a_job_whose_prepared_file_is_gone_stops_within_seconds_naming_it(tmp_path):
    """The job itself (here a real submitit local job, offline), not only the submitter: a cache
    purged between prepare and the job's start gives one line, before any training."""
    import time

    import submitit

    from hpc_itt.config.load import load_study
    from hpc_itt.study import plan
    from hpc_itt.study.stages import TargetCell

    _hub_cache(tmp_path / "hub")
    env = _offline_env(tmp_path / "hub")
    prepared = _submit(tmp_path, env, "--stage", "prepare", "--model", "xlnet", "arms=[no_itt]")
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    ready = json.loads((tmp_path / "exp" / "readiness.json").read_text())
    arrow = next(p for d in ready["datasets"] for s in d["splits"].values() for p in s["files"])
    os.unlink(arrow)
    study = load_study(None, [f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs", "data.source=offline",
                              *SMALL, "models=[xlnet-base]", "arms=[no_itt]"], cluster="local")
    cell = plan.Cell("xlnet-base", "sentiment", "domain", "no_itt", 1)
    executor = submitit.LocalExecutor(folder=tmp_path / "jobs")
    executor.update_parameters(timeout_min=5)
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"))
    started = time.time()
    job = executor.submit(TargetCell(study, cell, ready["models"]["xlnet-base"]["source"]))
    with pytest.raises(Exception) as failure:
        job.result()
    assert time.time() - started < 60
    named = [line for line in str(failure.value).splitlines() if "UserError:" in line]
    assert named and arrow in named[-1] and "--stage prepare" in named[-1], str(failure.value)[-2000:]
    assert not (plan.cell_dir(study, cell) / "checkpoints").exists()
