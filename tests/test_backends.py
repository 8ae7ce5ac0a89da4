"""The backend registry and protocol (hpc_itt.backends): every registered backend loads and
implements the protocol; job shapes reach each executor as its parameters; a new backend is one
module plus one registry line, and the pipeline runs a stage through it with nothing else changed."""
from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from hpc_itt import backends
from hpc_itt.backends.base import Backend, JobShape
from hpc_itt.config.load import load_study
from hpc_itt.errors import UserError
from hpc_itt.study import readiness

REGISTRY = Path(backends.__file__)


@pytest.mark.parametrize("kind", sorted(backends.BACKENDS))
def test_every_registered_backend_loads_and_is_a_backend(kind):
    backend = backends.get(kind)
    assert isinstance(backend, Backend) and backend.name == kind
    assert backends.get(kind) is backend  # one instance per process


def test_the_registry_imports_no_hpc_itt_module():
    """The schema validates `cluster.kind` against BACKENDS: the registry stays a leaf, so loading a
    config never imports submitit or a backend's code."""
    tree = ast.parse(REGISTRY.read_text())
    imported = [n.module if isinstance(n, ast.ImportFrom) else a.name for n in ast.walk(tree)
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in getattr(n, "names", [])]
    assert not [name for name in imported if name and name.startswith("hpc_itt")]


def test_job_shapes_from_a_profile():
    cluster = load_study(None, ["cluster.nodes=3", "cluster.tasks_per_node=4", "cluster.gpus_per_node=4",
                                "cluster.timeout_min=600", "cluster.target_timeout_min=30"], profile="slurm").cluster
    assert JobShape.distributed(cluster) == JobShape(nodes=3, tasks_per_node=4, gpus_per_node=4, timeout_min=600)
    assert JobShape.single(cluster) == JobShape(nodes=1, tasks_per_node=1, gpus_per_node=1, timeout_min=30)
    cpu = load_study(None, [], profile="local").cluster
    assert JobShape.single(cpu).gpus_per_node == 0


def test_each_executor_gets_the_shape(tmp_path):
    cluster = load_study(None, ["cluster.nodes=2", "cluster.tasks_per_node=4", "cluster.gpus_per_node=4",
                                "cluster.timeout_min=90"], profile="slurm").cluster
    shape = JobShape.distributed(cluster)
    slurm = backends.get("slurm").executor(cluster, tmp_path / "%j", shape, "x", after="afterok:7").parameters
    assert (slurm["nodes"], slurm["ntasks_per_node"], slurm["gpus_per_node"], slurm["time"]) == (2, 4, 4, 90)
    assert slurm["additional_parameters"]["dependency"] == "afterok:7"
    local = backends.get("local").executor(cluster, tmp_path / "%j", shape, "x").parameters
    assert (local["tasks_per_node"], local["gpus_per_node"], local["timeout_min"]) == (4, 4, 90)
    single = backends.get("slurm").executor(cluster, tmp_path / "%j", JobShape.single(cluster), "y").parameters
    assert (single["nodes"], single["ntasks_per_node"], single["gpus_per_node"]) == (1, 1, 1)


def test_an_unknown_kind_names_every_registered_backend():
    with pytest.raises(UserError, match=r"cluster\.kind: invalid value 'k8s' \(valid: debug, local, slurm\)"):
        load_study(None, ["cluster.kind=k8s"])


TOY = '''
from hpc_itt.backends.base import Backend

CALLS = []


class RecordingBackend(Backend):
    """Records what the pipeline hands it instead of running anything."""

    name = "recording"

    def check_reachable(self):
        CALLS.append("check_reachable")

    def run(self, study, stage, sources):
        CALLS.append(("run", stage, sorted(sources)))
        return 0

    def preview(self, study, stage):
        return f"would submit {stage} of {study.name}"

    def tensorboard(self, study, port):
        CALLS.append(("tensorboard", port))
        return 0
'''


def test_a_new_backend_is_one_module_and_one_registry_line(tmp_path, monkeypatch, capsys):
    """Written in this test: a module and a BACKENDS entry. Config, CLI and pipeline take it."""
    (tmp_path / "recording_backend.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(backends.BACKENDS, "recording", "recording_backend:RecordingBackend")
    monkeypatch.delitem(backends._loaded, "recording", raising=False)
    from hpc_itt.cli import main

    out = tmp_path / "out"
    common = ["--cluster", "recording", "--config", "configs/studies/quickstart.yaml", f"output_dir={out}",
              f"logdir={tmp_path}/logs"]
    assert main(["--stage", "tensorboard", "--port", "7001", *common]) == 0
    assert main(["--stage", "target", *common]) == 0
    calls = sys.modules["recording_backend"].CALLS
    assert calls[0] == ("tensorboard", 7001)
    assert calls[1] == "check_reachable" and calls[2][:2] == ("run", "target") and calls[2][2]
    assert (out / readiness.MANIFEST).is_file()  # the pipeline prepared the data before the backend ran
    capsys.readouterr()
    assert main(["--stage", "all", "--dry-run", *common]) == 0
    assert "would submit all of quickstart" in capsys.readouterr().out
