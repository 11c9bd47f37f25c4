"""The package's import graph runs downward (docs/architecture.md, "Layers").

Read from the source text, not by importing: a module-level import is one that runs when its
module is loaded; a function-level one runs when the function is first called. Both count as
an arrow for the layer rules; cycles are checked over module-level arrows (the ones that can
break an import).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lsmdb"

# A .pyx's Python-level `import x` / `from x import y` / `from x cimport y` / `cimport x`.
_PYX_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)(?:from\s+(?P<src>[\w.]+)\s+c?import\s+\(?(?P<names>[\w, ]+)"
    r"|c?import\s+(?P<mod>[\w.]+))")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*")
            if p.suffix in (".py", ".pyx", ".pxd") and "__pycache__" not in p.parts}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The lsmdb module that ``name`` (a module or a module's attribute) lives in."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(source: str, names: list[str], known: dict[str, Path]) -> list[str]:
    out = []
    for name in names:
        full = f"{source}.{name}"
        target = _resolve(full if full in known else source, known)
        if target:
            out.append(target)
    return out


def _absolute(module: str, level: int, source: str | None, is_package: bool) -> str:
    if not level:
        return source or ""
    base = module.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([source] if source else []))


def import_arrows() -> list[tuple[str, str, bool]]:
    """Every (importer, imported, at_module_level) among lsmdb's own modules."""
    known = _modules()
    arrows: set[tuple[str, str, bool]] = set()
    for module, path in known.items():
        text = path.read_text()
        if path.suffix == ".py":
            for node, in_function in _walk(ast.parse(text), False):
                if isinstance(node, ast.Import):
                    found = [_resolve(a.name, known) for a in node.names]
                else:
                    source = _absolute(module, node.level, node.module, path.name == "__init__.py")
                    found = _targets(source, [a.name for a in node.names], known)
                arrows.update((module, t, not in_function) for t in found if t and t != module)
        else:
            for line in text.splitlines():
                match = _PYX_IMPORT.match(line)
                if not match:
                    continue
                if match["src"]:
                    names = [n.strip().split(" as ")[0] for n in match["names"].split(",")]
                    found = _targets(match["src"], [n for n in names if n], known)
                else:
                    found = [_resolve(match["mod"], known)]
                at_top = not match["indent"]
                arrows.update((module, t, at_top) for t in found if t and t != module)
    return sorted(arrows)


def _walk(node: ast.AST, in_function: bool):
    """Yield (import node, inside a function?), skipping ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
        yield from _walk(child, nested)


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_graph_is_read():
    arrows = import_arrows()
    assert ("lsmdb.lsm.db", "lsmdb.lsm.version", True) in arrows
    assert ("lsmdb._core.readpath", "lsmdb._core.sstable_reader", True) in arrows  # .pyx too


# The top floor: command line and benchmarks use everything, the test machinery included
# (`lsmdb stress` runs lsmdb.testing.stress).
TOOLS = ("lsmdb.testing", "lsmdb.cli", "lsmdb.bench")


def test_nothing_below_the_tools_imports_testing():
    wrong = [(a, b) for a, b, _ in import_arrows()
             if _in(b, "lsmdb.testing") and not _in(a, *TOOLS)]
    assert wrong == []


def test_lsm_and_below_never_import_the_engine_floors():
    below = ("lsmdb.lsm", "lsmdb._core", "lsmdb.wal", "lsmdb.sstable", "lsmdb.env",
             "lsmdb.errors", "lsmdb.options", "lsmdb.killpoint")
    upper = ("lsmdb.engine", "lsmdb.backends", "lsmdb.indexes", "lsmdb.storage_api",
             "lsmdb.storage_keys")
    wrong = [(a, b) for a, b, _ in import_arrows() if _in(a, *below) and _in(b, *upper)]
    assert wrong == []


# The floors of docs/architecture.md, lowest first. An arrow may stay on its floor or go down.
FLOORS = [
    ("lsmdb.errors", "lsmdb.options", "lsmdb.env", "lsmdb.killpoint", "lsmdb._version"),
    ("lsmdb._core",),
    ("lsmdb.wal", "lsmdb.sstable"),
    ("lsmdb.lsm",),
    # The storage vocabulary: protocols, ids, descriptors (storage_api) and the key layout of
    # the one ordered key space (storage_keys), shared by the backends, indexes and engine.
    ("lsmdb.storage_api", "lsmdb.storage_keys"),
    ("lsmdb.backends",),
    ("lsmdb.indexes",),
    ("lsmdb.engine",),
    ("lsmdb",),  # the package facade: re-exports the public API of the floors below
    TOOLS,
]


def floor_of(module: str) -> int:
    for number, packages in enumerate(FLOORS):
        if module in packages or any(_in(module, p) for p in packages if p != "lsmdb"):
            return number
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def test_every_arrow_runs_down_or_level():
    """Function-level imports count too: hiding an upward import in a function is still one."""
    upward = [(a, b) for a, b, _ in import_arrows() if floor_of(b) > floor_of(a)]
    assert upward == []


def test_floor_of():
    assert floor_of("lsmdb") == 8
    assert floor_of("lsmdb.lsm.db") == 3
    assert floor_of("lsmdb._core.batch") == 1
    assert floor_of("lsmdb.storage_keys") == floor_of("lsmdb.storage_api") == 4
    assert floor_of("lsmdb.indexes.btree") < floor_of("lsmdb.engine.engine")
    assert floor_of("lsmdb.testing.stress") == 9


def _cycles(arrows: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in arrows:
        graph.setdefault(a, set()).add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_at_module_level():
    assert _cycles([(a, b) for a, b, at_top in import_arrows() if at_top]) == []


def test_no_import_cycles_below_the_tools_even_through_function_level_imports():
    below = [(a, b) for a, b, _ in import_arrows()
             if not _in(a, *TOOLS) and not _in(b, *TOOLS)]
    assert _cycles(below) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
