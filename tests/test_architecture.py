"""The code's shape, checked: no import cycles between hpc_itt's modules (function-level imports
count: they are dependencies too), and the target suites stay behind their registry."""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "hpc_itt"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """hpc_itt modules `path` imports anywhere in its body (`from a import b` counts a.b when b is a module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        out |= {name for name in names if name in modules}
    return out


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    edges = {name: imports(path, modules) - {name} for name, path in paths.items()}
    for name in modules:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        for dep in list(edges[name]):
            parts = dep.split(".")
            own = {".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")))}  # already running
            edges[name] |= {".".join(parts[:i]) for i in range(2, len(parts))
                            if ".".join(parts[:i]) in modules and ".".join(parts[:i]) not in own}
        edges[name] -= {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_only_the_xtreme_suite_knows_xtreme_targets():
    """The core asks a target's suite; no `is_xtreme`-style branch outside the XTREME-R modules."""
    hits = subprocess.run(["grep", "-rn", "is_xtreme", str(PACKAGE)], capture_output=True, text=True).stdout
    assert hits == ""
    # data/sources reads `xtreme:` intermediate sources (MNLI, XNLI-MT mixtures) through the XTREME-R readers
    core = [p for p in PACKAGE.rglob("*.py") if "xtreme" not in p.parts and p.name != "xtreme.py"
            and "targets" not in p.parts and p != PACKAGE / "data" / "sources.py"]
    leaks = [str(p.relative_to(REPO)) for p in core if "from hpc_itt.xtreme" in p.read_text()
             or "import hpc_itt.xtreme" in p.read_text()]
    assert leaks == [], f"core modules importing XTREME-R internals: {leaks}"


def test_only_the_backends_know_the_backend_kinds():
    """The core asks the backend (hpc_itt.backends.of(cluster)); no `cluster.kind == "slurm"` branch."""
    hits = subprocess.run(["grep", "-rnE", r"kind (==|!=|in) \(?\"(local|slurm|debug)\"", str(PACKAGE)],
                          capture_output=True, text=True).stdout
    assert hits == ""
    assert subprocess.run(["grep", "-rnE", r"kind (==|!=|in) \(?\"(local|slurm|debug)\"", "-"], input='kind == "slurm"',
                          capture_output=True, text=True).stdout  # the pattern matches such a branch
