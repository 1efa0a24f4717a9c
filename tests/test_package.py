"""The helper package stays thin and layered: no import cycle between its modules (imports inside functions
counted), no function longer than a screen."""

import ast
from pathlib import Path

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
MAX_FUNCTION_LINES = 60


def imports_between_modules() -> dict[str, set[str]]:
    """{module: the helpers modules it imports}, from every import statement, at the top or inside a function."""
    modules = {path.stem: ast.parse(path.read_text()) for path in HELPERS.glob("*.py")}
    edges = {}
    for name, tree in modules.items():
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
                parts = node.module.split(".")
                found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("helpers.")}
        edges[name] = (found & set(modules)) - {name}
    return edges


def test_no_import_cycle_between_helpers_modules():
    edges = imports_between_modules()

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for module in edges[todo.pop()] - seen:
                seen.add(module)
                todo.append(module)
        return seen

    in_cycles = sorted(name for name in edges if name in reachable(name))
    assert not in_cycles, f"helpers modules in an import cycle: {in_cycles} (imports: " + "; ".join(
        f"{name} -> {', '.join(sorted(edges[name]))}" for name in in_cycles) + ")"


def test_no_function_over_a_screen():
    long = [f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted(HELPERS.glob("*.py")) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
