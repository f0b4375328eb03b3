"""The package's layout is a pipeline: each subpackage imports only what its docstring says it may, no two
modules import each other (directly or round a loop), and no module reaches for another's private names."""

import ast
import re
from pathlib import Path

import pytest

import attribcli

PACKAGE = Path(attribcli.__file__).parent
# top-level modules: what each may import (a subpackage's allowance is in its own docstring)
TOP = {"errors": [], "files": ["errors"], "keys": ["errors"], "progress": [], "allocator": [], "sampling": [],
       "config": ["errors", "money.amounts", "rights"],
       "cli": ["*"], "__main__": ["cli"]}


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        parts = p.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only: no import at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports(path: Path, known: set[str]) -> list[tuple[str, list[str]]]:
    """(imported module relative to attribcli, the names taken from it) for each attribcli import."""
    out = []
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "attribcli":
            base = node.module.removeprefix("attribcli").lstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}".lstrip(".")
                out.append((sub, []) if sub in known else (base, [alias.name]))
        elif isinstance(node, ast.Import):
            out += [(a.name.removeprefix("attribcli").lstrip("."), []) for a in node.names
                    if a.name.split(".")[0] == "attribcli"]
    return out


def allowance(module: str) -> list[str]:
    top = module.split(".")[0]
    if top in TOP:
        return TOP[top]
    doc = ast.get_docstring(ast.parse((PACKAGE / top / "__init__.py").read_text())) or ""
    m = re.search(r"May import:(.*)", doc, re.S)
    assert m, f"attribcli/{top}/__init__.py: its docstring must say what the subpackage may import ('May import: ...')"
    text = re.sub(r"\([^)]*\)", "", m.group(1))
    return [w for w in re.findall(r"[a-z_]+(?:\.[a-z_]+)*", text) if (PACKAGE / w.replace(".", "/")).exists()
            or (PACKAGE / (w.replace(".", "/") + ".py")).exists()]


MODULES = modules()
KNOWN = set(MODULES)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m))
def test_each_module_imports_only_what_its_subpackage_may(module):
    allowed = allowance(module)
    own = module.split(".")[0]
    for target, _ in imports(MODULES[module], KNOWN):
        if not target or target.split(".")[0] == own or "*" in allowed:
            continue
        assert any(target == a or target.startswith(a + ".") for a in allowed), \
            f"attribcli.{module} imports attribcli.{target}; its subpackage may import only: " \
            f"{', '.join(allowed) or 'nothing'}"


def test_the_engine_knows_no_config_and_no_model_of_attribs():
    for module in (m for m in MODULES if m.startswith("inrun")):
        assert all(t.startswith("inrun") for t, _ in imports(MODULES[module], KNOWN)), module


def test_no_import_cycle_between_modules():
    graph = {m: {t for t, _ in imports(p, KNOWN) if t in KNOWN and t != m and t} for m, p in MODULES.items()}
    for m in list(graph):  # importing a module imports its package's __init__ too, but not the other way
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_no_module_imports_another_modules_private_names():
    for module, path in MODULES.items():
        for target, names in imports(path, KNOWN):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"attribcli.{module} imports {private} from attribcli.{target}"


def test_every_subpackage_says_what_it_owns_and_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "May import:" in doc and len(doc.split()) > 15, init


def test_tests_mirror_the_package():
    tests = Path(__file__).parent
    for sub in (p.parent.name for p in PACKAGE.glob("*/__init__.py")):
        assert (tests / sub / "__init__.py").is_file(), f"tests/{sub}/ should hold the tests of attribcli/{sub}/"


def test_what_reads_a_finished_run_reads_it_through_posttrain_never_through_training():
    """Valuation, money, reports and audit sit above posttrain/ (the run reader, replay, query, surveys): none
    imports training/ itself."""
    for module in (m for m in MODULES if m.split(".")[0] in ("valuation", "money", "reports", "audit")):
        if module == "audit.manifest":  # written by training, so below it
            continue
        up = [t for t, _ in imports(MODULES[module], KNOWN) if t.split(".")[0] == "training"]
        assert not up, f"attribcli.{module} imports {up}: read the run through attribcli.posttrain"
