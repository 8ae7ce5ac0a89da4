"""The study's answer, assembled from each target suite's section (hpc_itt.targets): report.md,
summary.txt, the suites' own files (report.csv, report.tex, xtreme.csv, ...) and the plots.
Missing cells are listed, never dropped; results made with other settings are not counted."""
from __future__ import annotations

from hpc_itt import atomic, targets
from hpc_itt.config.schema import StudyConfig
from hpc_itt.report import plots
from hpc_itt.study import plan, provenance


def sections(study: StudyConfig, ledger: provenance.Ledger) -> list[targets.Section]:
    found = [suite.report(study, names, ledger) for suite, names in targets.suites_in(study)]
    return [section for section in found if section is not None]


def markdown(study: StudyConfig, parts: list[targets.Section], not_counted: str = "") -> str:
    head = [f"# ITT study `{study.name}`", ""] + ([f"**{not_counted}**", ""] if not_counted else [])
    return "\n".join(head) + "\n" + "\n".join(part.markdown for part in parts)


def write(study: StudyConfig) -> dict:
    ledger = provenance.Ledger(study)
    parts = sections(study, ledger)
    not_counted = provenance.not_counted_note(ledger)
    out = plan.root(study) / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary = " ".join(part.summary for part in parts) + "\n"
    files = {"report.md": markdown(study, parts, not_counted),
             "summary.txt": summary + (not_counted + "\n" if not_counted else "")}
    for part in parts:
        files.update(part.files)
    for name, text in files.items():
        atomic.write_text(out / name, text)
    rows = [row for part in parts for row in part.plot_rows]
    figures = plots.write_all(study, rows, out)
    missing = [cell for part in parts for cell in part.missing]
    return {"dir": str(out), "rows": rows, "missing": [c.key for c in missing], "markdown": files["report.md"],
            "plots": figures, "not_counted": sorted(ledger.not_current)}


def show(study: StudyConfig) -> dict:
    """Write the report and print it: where it is, then its Markdown."""
    import sys

    from hpc_itt.console import say

    written = write(study)
    say(f"report: {written['dir']}/report.md and report.csv")
    sys.stdout.write("\n" + written["markdown"] + "\n")
    return written
