"""The package's layering, read from the source: every import, at module level or inside a
function, goes to the same layer or one below; no import cycle; no module uses another's private
names outside its own subpackage.

The layers, from the ground up (README, "Contributing"):

0. ground: errors and the signal set kernel threads block;
1. numbers: ``bridge._kernels`` (methods and the choice among them);
2. library: MATLAB's rules and the public functions (the ``bridge`` package itself);
3. files: ``bridge._formats`` and atomic output;
4. job: ``bridge._job`` (operations and options declared once, one job's run, streaming);
5. front doors: the command line, the fast path, the warm worker and its client, batch.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bridge"

LAYERS = {
    "ground": ["bridge.errors", "bridge._signals"],
    "numbers": ["bridge._kernels"],
    "library": ["bridge", "bridge._semantics", "bridge.convolution", "bridge.filtering"],
    "files": ["bridge._formats", "bridge._atomic"],
    "job": ["bridge._job"],
    "front doors": [
        "bridge._fastpath",
        "bridge._client",
        "bridge._serve",
        "bridge._serve_memory",
        "bridge._batch",
        "bridge._cli",
        "bridge.__main__",
    ],
}
ORDER = list(LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, level = "", None
    for k, name in enumerate(ORDER):
        for prefix in LAYERS[name]:
            # "bridge" is the package's own __init__ only; every other name is a module's prefix.
            inside = prefix != "bridge" and module.startswith(prefix + ".")
            if (module == prefix or inside) and len(prefix) > len(best):
                best, level = prefix, k
    if level is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return level


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, int, list[str]]]:
    """(imported bridge module, line, names taken from it) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "bridge" or alias.name.startswith("bridge."):
                    found.append((_known(alias.name), node.lineno, []))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if not (target == "bridge" or target.startswith("bridge.")):
                continue
            names = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, node.lineno, []))
                else:
                    names.append(alias.name)
            if names:
                found.append((_known(target), node.lineno, names))
    return found


def _known(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_to_the_same_layer_or_below(module):
    mine = layer_of(module)
    for target, line, _ in GRAPH[module]:
        theirs = layer_of(target)
        assert theirs <= mine, (
            f"{module} (layer {ORDER[mine]}) imports {target} (layer {ORDER[theirs]}), line {line}"
        )


def test_no_import_cycle():
    edges = {m: sorted({t for t, _, _ in GRAPH[m] if t != m}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            # A package's __init__ runs before any of its submodules: an import of the package
            # by its own submodule is no cycle of code (bridge._job.x importing bridge._job).
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)


def _subpackage(module: str) -> str:
    path = MODULES[module]
    parts = module.split(".")
    return module if path.name == "__init__.py" else ".".join(parts[:-1])


def test_no_private_names_across_subpackages():
    """``from x import _name`` and ``x._name`` only within x's own subpackage."""
    problems = []
    for module in MODULES:
        tree = ast.parse(MODULES[module].read_text())
        bound = {}  # local name -> bridge module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in MODULES:
                        bound[alias.asname or alias.name] = sub
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in MODULES and alias.asname:
                        bound[alias.asname] = alias.name
        for target, line, names in GRAPH[module]:
            for name in names:
                if _is_private(name) and _subpackage(target) != _subpackage(module):
                    problems.append(f"{module}:{line} imports {target}.{name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and _is_private(node.attr)
            ):
                target = bound[node.value.id]
                if _subpackage(target) != _subpackage(module):
                    problems.append(f"{module}:{node.lineno} uses {target}.{node.attr}")
    assert not problems, "\n".join(problems)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_checks_see_function_level_imports():
    """The graph counts imports inside functions (they must not hide a cycle)."""
    batch_imports = {t for t, _, _ in GRAPH["bridge._cli"]}
    assert "bridge._batch" in batch_imports  # imported inside cli.batch()


def _strings_outside_docstrings(tree: ast.AST):
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings:
            yield node


def test_errors_below_the_front_doors_name_arguments_not_flags():
    """Library, files and job errors reach Python callers too: they say ``{max_memory}`` and
    the command line renders its flag (bridge.errors.BridgeError.text)."""
    from bridge._job.options import BATCH_OPTIONS, JOB_OPTIONS

    flags = {option.flag for option in (*JOB_OPTIONS, *BATCH_OPTIONS)}
    problems = []
    for module in MODULES:
        if layer_of(module) > ORDER.index("job") or module in ("bridge._job.options",):
            continue
        if module.startswith("bridge._job.") and module != "bridge._job.stream":
            continue  # the request's own checks (bridge._job.runner) speak of its flags
        tree = ast.parse(MODULES[module].read_text())
        for node in _strings_outside_docstrings(tree):
            for flag in flags:
                if re.search(re.escape(flag) + r"\b", node.value):
                    problems.append(f"{module}:{node.lineno}: {flag}")
    assert not problems, "\n".join(problems)


def test_an_error_names_an_argument_as_the_caller_knows_it():
    from bridge._job.outcome import status_and_text
    from bridge.errors import UsageError

    err = UsageError("{max_memory} '3' is below 1M", arguments=("max_memory",))
    assert str(err) == "max_memory '3' is below 1M (bridge:usage)"
    assert status_and_text(err)[1] == "--max-memory '3' is below 1M (bridge:usage)"
