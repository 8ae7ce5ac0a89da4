"""XTREME-R on the real (local, one-node) Slurm: the reduced study submitted at once as the usual
4-sbatch chain — intermediate array (nli-en, nli-multi) → consolidations → one target array whose
no-ITT cells are shared by both tasks → report — run from the code snapshot with the fixture data."""
import json
import re
import subprocess
import sys
import time

import pytest
from conftest import REPO
from slurm_cluster import slurm_cluster  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TARGETS = ["xnli", "panx", "tatoeba"]
CELLS = [("none", "no_itt"), ("nli-en", "itt"), ("nli-multi", "itt")]  # (task, arm): no-ITT cells are shared
# One row of `--stage status` per cell (hpc_itt.study.status.table): "  <state:9> <model/task/target/arm/seedN>  [job ...]";
# the header ("study '...': 9 cells — 9 done") and the "  intermediate <model>/<task>: ..." lines are not rows.
ROW = re.compile(r"^  (?P<state>[a-z]+) +(?P<key>[^ /]+/[^ /]+/[^ /]+/[^ /]+/seed\d+)(?:  .*)?$")


def status_rows(text: str) -> dict[str, str]:
    """{cell key: state} from the state column of the status table's cell rows."""
    rows = {}
    for line in text.splitlines():
        if match := ROW.match(line):
            assert match["key"] not in rows, f"cell {match['key']} listed twice"
            rows[match["key"]] = match["state"]
    return rows


def test_xtreme_chain_on_slurm(slurm_cluster, tmp_path):  # noqa: F811
    cmd = [sys.executable, "launch/submit.py", "--config", "configs/studies/xtreme_local.yaml", "--cluster", "slurm",
           "--profile", "local-slurm", f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs",
           f"targets=[{','.join(TARGETS)}]"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert out.stdout.count("submitted ") == 4 and "9 cell(s)" in out.stdout  # 3 targets x (no ITT + 2 ITT arms)
    report = tmp_path / "exp" / "report" / "report.md"
    started = time.time()
    while not report.is_file():
        assert time.time() - started < 900, "the report job did not finish"
        time.sleep(1)
    text = report.read_text()
    assert "## XTREME-R" in text and "Partial" not in text
    for target in TARGETS:
        for task, arm in CELLS:
            metrics = json.loads((tmp_path / "exp" / "target" / "tiny-xlmr" / task / target / arm / "seed1"
                                  / "metrics.json").read_text())
            assert len(metrics["languages"]) == 3, (target, task)
    status = subprocess.run([sys.executable, "launch/submit.py", "--config", "configs/studies/xtreme_local.yaml",
                             "--stage", "status", "--cluster", "slurm", "--profile", "local-slurm",
                             f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs", f"targets=[{','.join(TARGETS)}]"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr[-2000:]
    expected = {f"tiny-xlmr/{task}/{target}/{arm}/seed1": "done" for target in TARGETS for task, arm in CELLS}
    assert status_rows(status.stdout) == expected, status.stdout[-2000:]  # every cell's own row says done
    header = [line for line in status.stdout.splitlines() if line.startswith("study ")]
    assert len(header) == 1 and header[0].endswith(": 9 cells — 9 done"), status.stdout[-2000:]
