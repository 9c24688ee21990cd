"""The package's structure: imports point one way, down the layers.

kernels -> networks -> training -> estimators -> forecasting -> CLI: a module imports
only from its own layer or the layers below it, no two modules import each other
(directly or through others), ``nn`` knows nothing of devices, and the CLI and the
backtest reach the forecaster through public calls only. Imports inside functions
count, as in ``python ../shared/tools/import_graph.py tsLSTM``.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tsLSTM"

# Layers from the bottom up; a module's layer is that of its longest matching prefix.
LAYERS = [
    ("tsLSTM.kernels", "tsLSTM._threads", "tsLSTM._progress", "tsLSTM._archive",
     "tsLSTM._files", "tsLSTM.devices", "tsLSTM.metrics", "tsLSTM.datasets"),
    ("tsLSTM.nn", "tsLSTM.optim", "tsLSTM.losses", "tsLSTM.hyperparams"),
    ("tsLSTM.gpu", "tsLSTM.training"),
    ("tsLSTM.estimators", "tsLSTM.windowing"),
    ("tsLSTM.forecasting",),
    ("tsLSTM.persistence", "tsLSTM.cli", "tsLSTM.__main__", "tsLSTM.cuda", "tsLSTM.plotting"),
]  # fmt: skip


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node, module, is_package):
    """Dotted names an import statement refers to (``from x import y`` gives x and x.y)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module
    return [name] + [f"{name}.{alias.name}" for alias in node.names]


def import_graph():
    """``{module: {modules of the package it imports}}``, function-level imports too."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported(node, module, path.name == "__init__.py"):
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def external_imports(path):
    """Every dotted name imported by the file at ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
    return names


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def layer(module):
    """Index of ``module``'s layer in LAYERS (the package's ``__init__`` is on top)."""
    best, rank = "", len(LAYERS)
    for k, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, k
    return rank


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_layer():
    graph = import_graph()
    unplaced = [m for m in graph if m != "tsLSTM" and layer(m) == len(LAYERS)]
    assert unplaced == []


def test_imports_point_down_the_layers():
    graph = import_graph()
    upward = [
        f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
        for m, targets in sorted(graph.items())
        for t in sorted(targets)
        if t != "tsLSTM" and layer(t) > layer(m)
    ]
    assert upward == []


def test_nn_imports_no_device_code():
    device_code = ("tsLSTM.gpu", "tsLSTM.cuda", "tsLSTM.kernels.gpu", "tsLSTM.kernels.cuda",
                   "tsLSTM.devices", "numba.cuda")  # fmt: skip
    offenders = [
        f"{module_name(path)} imports {name}"
        for path in sorted((PACKAGE / "nn").rglob("*.py"))
        for name in sorted(external_imports(path))
        if any(name == d or name.startswith(d + ".") for d in device_code)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "relative", ["cli.py", "forecasting/backtest.py", "forecasting/distributed.py"]
)
def test_cli_and_backtest_use_public_calls_only(relative):
    """No ``obj._name`` on another object (dunders are protocol, not private)."""
    path = PACKAGE / relative
    private = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not (node.attr.startswith("__") and node.attr.endswith("__"))
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert private == []
