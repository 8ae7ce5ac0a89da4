"""The entry point as a user meets it: help, dry runs, and one-line errors with exit code 2."""
import os
import re
import subprocess
import sys
import time

import pytest
from conftest import REPO

from hpc_itt.cli import main, parser
from hpc_itt.study.pipeline import STAGES


def submit(*args, cwd=REPO, timeout=120):
    return subprocess.run([sys.executable, "launch/submit.py", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_help_documents_stages_and_flags():
    """--help describes every stage the pipeline runs, every argument the parser takes (with its
    help text), and the examples users copy."""
    # wide enough that argparse wraps no help text (it would break lines inside hyphenated flags)
    result = subprocess.run([sys.executable, "launch/submit.py", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "COLUMNS": "500"})
    out = result.stdout
    assert result.returncode == 0 and out.startswith("usage: launch/submit.py "), result.stderr
    # the "stages:" section: one entry per stage, exactly the pipeline's stages
    section = out.split("\nstages:\n", 1)[1].split("\n\n", 1)[0]
    documented = [line.split()[0] for line in section.splitlines() if re.match(r"^  \S", line)]
    assert sorted(documented) == sorted(STAGES), section
    flat = " ".join(out.split())
    actions = parser()._actions
    assert {"--stage", "--model", "--dry-run", "--rerun-changed"} <= {o for a in actions for o in a.option_strings}
    for action in actions:
        names = action.option_strings or [action.metavar or action.dest]
        for name in names:
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", out), f"{name} is not in --help"
        if action.help:
            assert " ".join(action.help.split()) in flat, f"help of {names[0]} is not in --help"
    assert f"one of: {', '.join(STAGES)} (default: all)" in flat
    for example in ("python launch/submit.py --stage intermediate --model xlnet",
                    "python launch/submit.py --stage all --cluster local",
                    "python launch/submit.py --stage all --config configs/studies/seed_study.yaml --dry-run"):
        assert example in [line.strip() for line in out.splitlines()], example
    assert "overrides (key=value, YAML values, applied last):" in out and "seeds=[1,2,3]" in out


def test_dry_run_prints_grid_and_submits_nothing(tmp_path):
    code = main(["--dry-run", f"output_dir={tmp_path}/exp", "seeds=[1,2,3]"])
    assert code == 0
    assert not (tmp_path / "exp").exists()


def test_dry_run_output(tmp_path, capsys):
    main(["--dry-run", f"output_dir={tmp_path}/exp", "seeds=[1,2,3]"])
    out = capsys.readouterr().out
    assert "12 cells = 1 model(s) x 1 task(s) x 2 target(s) x 2 arm(s) x 3 seed(s)" in out
    assert out.count("[pending]") == 12
    assert f"{tmp_path}/exp/target/minilm-l2/sentiment/crosslingual/no_itt/seed3" in out


def test_xlnet_without_hub_fails_fast_with_offline_alternative(tmp_path):
    """The user's own example: where the hub is unreachable it stops in seconds with one line."""
    started = time.time()
    result = submit("--stage", "intermediate", "--model", "xlnet", f"output_dir={tmp_path}/exp",
                    f"logdir={tmp_path}/logs")
    assert time.time() - started < 60
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: model 'xlnet-base' needs xlnet/xlnet-base-cased")
    assert "--model tiny-xlnet" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--stage", "train"], "unknown stage 'train' (valid: all, consolidate, intermediate, prepare, report, status, target, tensorboard)"),
    (["--model", "gpt5"], "unknown model 'gpt5' (valid: "),
    (["--task", "poetry"], "unknown task 'poetry'"),
    (["--cluster", "k8s"], "unknown cluster 'k8s' (valid: debug, local, slurm)"),
    (["--config", "nope.yaml"], "config file not found: nope.yaml"),
    (["intermediate.epochz=3"], "unknown key 'epochz'"),
    (["intermediate.precision=fp16", "--stage", "intermediate"], "precision 'fp16' needs a GPU"),
])
def test_bad_input_is_one_line_exit_2(args, fragment, capsys, tmp_path):
    code = main([*args, f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err and err.count("\n") == 1
    assert not (tmp_path / "exp" / "intermediate").exists()


@pytest.mark.parametrize("model, hub_id, alternative", [
    ("bert", "google-bert/bert-base-uncased", "minilm"), ("roberta", "FacebookAI/roberta-base", "tiny-roberta"),
    ("mbert", "google-bert/bert-base-multilingual-cased", "minilm"), ("xlmr", "FacebookAI/xlm-roberta-base", "tiny-xlmr"),
    ("xlmr-large", "FacebookAI/xlm-roberta-large", "tiny-xlmr"),
])
def test_every_hub_model_fails_fast_offline(model, hub_id, alternative, capsys, tmp_path):
    code = main(["--stage", "intermediate", "--model", model, f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/l"])
    err = capsys.readouterr().err
    assert code == 2 and f"needs {hub_id} from the Hugging Face hub" in err and f"--model {alternative}" in err


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "http"])
def test_a_port_out_of_range_is_one_line(port, capsys, tmp_path):
    code = main(["--stage", "tensorboard", "--port", port, f"output_dir={tmp_path}/exp", f"logdir={tmp_path}/logs"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: --port '{port}' is not a TCP port (valid: 1-65535)\n"


def test_an_output_dir_that_is_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "taken").write_text("a file")
    for where in ("taken", "taken/below"):
        code = main(["--stage", "all", f"output_dir={tmp_path / where}", f"logdir={tmp_path}/logs"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and f"output_dir {tmp_path / where}" in err and "a file" in err
    assert (tmp_path / "taken").read_text() == "a file" and not (tmp_path / "logs").exists()


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot write into: read-only for a user, immutable for root."""
    import os
    import subprocess as sp

    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    if sp.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root here, and this filesystem has no immutable attribute to make a folder unwritable")
    yield folder
    sp.run(["chattr", "-i", str(folder)], check=True)


def test_an_unwritable_output_dir_is_one_line_before_anything_runs(unwritable, capsys, tmp_path):
    code = main(["--stage", "all", f"output_dir={unwritable}/exp", f"logdir={tmp_path}/logs"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"output_dir {unwritable}/exp is not writable" in err
    assert list(unwritable.iterdir()) == []
