"""The package's import graph (issue 43): no cycle, and no module below the package face
imports it. Read from the source with ``ast``, function-level imports included (an import
deferred into a function is still an edge: it only hides the cycle until the call)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skselmix"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module, is_package, node, modules):
    """The skselmix modules an import node names: ``from .x import y`` names module ``x.y``
    when there is one (``x`` itself, a parent, is imported first anyway), else ``x``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "skselmix"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "skselmix":
        return []
    return [f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target for alias in node.names]


def import_graph():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(t for t in _resolve(name, path.name == "__init__.py", node, modules) if t in modules)
        graph[name] = targets - {name}
    return graph


def _cycles(graph):
    """Every cycle's nodes, found by depth-first search (as lists, first node repeated last)."""
    found, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "skselmix._torch.network" in graph["skselmix._torch.architecture"]  # the graph is read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_the_package_face():
    graph = import_graph()
    # Parents of a module are imported by Python first anyway; an explicit import of the
    # face from below it is what makes the face sit under the torch folder.
    importers = sorted(name for name, targets in graph.items() if "skselmix" in targets and name != "skselmix")
    assert importers == []


def test_networks_import_the_head_interface_one_way():
    graph = import_graph()
    assert "skselmix._torch.heads" in graph["skselmix._torch.network"]
    assert "skselmix._torch.network" not in graph["skselmix._torch.heads"]
