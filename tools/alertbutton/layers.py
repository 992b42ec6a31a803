"""`alertbutton layers`: the import rules of the tree (issue 18), checked by reading every import.

Layers, from the bottom:
  core     firmware/core/: codecs and value types (SMS PDUs, GSM-7, NMEA, ADPCM, the evidence
           chunk format, Fix, the modem error types, number rules, wrap-safe time). Imports nothing
           of the project but itself.
  drivers  drivers/: hardware handed in configured; imports only core.
  logic    firmware/ (all but core): the device logic. Imports core and itself, never a driver: it
           receives driver objects from the board profile and calls their methods.
  boards   boards/: the only place that builds hardware objects; imports anything device-side.
  entry    boot.py, main.py: boards and logic.
  host     tools/: imports core and logic (to check input with the device's own code), never the
           reverse; no import circles between host modules.
A device file over MAX_LINES lines needs a reason at its top (a line starting "# Size:").
Run by tests/host/test_layers.py; `alertbutton layers` prints the same report."""
import ast
import os
import sys

from alertbutton import vm

MAX_LINES = 600
DEVICE_ROOTS = ("firmware", "drivers", "boards")
ENTRY = ("boot.py", "main.py")
# layer -> layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "drivers": {"core"},
    "logic": {"core"},
    "boards": {"core", "drivers", "logic"},
    "entry": {"boards", "logic", "core"},
    "host": {"core", "logic", "drivers", "boards"},
}
SKIP_DIRS = ("simlib",)  # boards/simlib: the simulated `machine`, hardware, not a layer of the tree


class Problem(str):
    """One line of the report, and what it is about: kind "layer" (an import against the order: the
    importing module's `layer`, the imported one's `target`), "size" (a device file over MAX_LINES
    without a reason) or "circle" (host modules importing each other in a circle)."""

    def __new__(cls, text, kind, layer=None, target=None):
        p = str.__new__(cls, text)
        p.kind, p.layer, p.target = kind, layer, target
        return p


def layer_of(module):
    """Layer of a dotted module name of this project, or None for anything else (stdlib, micropython
    builtins, micropython-lib, the simulated machine)."""
    head = module.split(".")[0]
    if module == "firmware.core" or module.startswith("firmware.core."):
        return "core"
    if head == "firmware":
        return "logic"
    if head == "drivers":
        return "drivers"
    if head == "boards":
        return "boards"
    if head in ("alertbutton",):
        return "host"
    return None


def _module_name(root, path):
    rel = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
    if rel.endswith(".__init__"):
        rel = rel[: -len(".__init__")]
    return rel


def _files():
    """(module name, layer, path) of every Python file in the tree."""
    repo = vm.REPO
    out = []
    for f in ENTRY:
        p = os.path.join(repo, f)
        if os.path.exists(p):
            out.append((f[:-3], "entry", p))
    for top in DEVICE_ROOTS:
        for root, dirs, files in os.walk(os.path.join(repo, top)):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and d != "__pycache__"]
            for f in sorted(files):
                if f.endswith(".py"):
                    p = os.path.join(root, f)
                    name = _module_name(repo, p)
                    out.append((name, layer_of(name), p))
    tools = os.path.join(repo, "tools")
    for root, dirs, files in os.walk(os.path.join(tools, "alertbutton")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(root, f)
                out.append((_module_name(tools, p), "host", p))
    return out


def _imports(path, module):
    """(imported module, line) for every import in the file, at any depth (a lazy import inside a
    function is still an arrow). Relative imports are resolved against `module`."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    pkg = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".") if pkg else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([base] if base else []))
            out.append((base, node.lineno))
            for a in node.names:  # "from firmware import alert": the arrow goes to firmware.alert
                out.append((base + "." + a.name, node.lineno))
    return out


def check():
    """(problems, edges): problems are Problem strings; edges the host module graph."""
    problems = []
    files = _files()
    known = {name for name, _l, _p in files}
    host_graph = {}
    for name, layer, path in files:
        rel = os.path.relpath(path, vm.REPO)
        for target, line in _imports(path, name):
            if target not in known:
                continue  # a name imported from a module, or something outside the project
            tlayer = "entry" if target in ("boot", "main") else layer_of(target)
            if tlayer is None or tlayer == layer:
                if layer == "host" and tlayer == "host" and target != name:
                    host_graph.setdefault(name, set()).add(target)
                continue
            if tlayer not in ALLOWED.get(layer, set()):
                problems.append(Problem("%s:%d: %s (%s) imports %s (%s): not allowed"
                                        % (rel, line, name, layer, target, tlayer), "layer", layer, tlayer))
        if layer != "host":
            n = sum(1 for _ in open(path, encoding="utf-8"))
            if n > MAX_LINES:
                head = "".join(open(path, encoding="utf-8").readlines()[:30])
                if "# Size:" not in head:
                    problems.append(Problem("%s: %d lines (over %d) and no '# Size:' reason at its top"
                                            % (rel, n, MAX_LINES), "size", layer))
    for cycle in _cycles(host_graph):
        problems.append(Problem("host import circle: " + " -> ".join(cycle), "circle", "host", "host"))
    return problems, host_graph


def _cycles(graph):
    """Each elementary circle once (as found by a DFS), smallest first."""
    found, seen = [], set()
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    found.append(cyc)
            elif state.get(m) is None:
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n, [])
    return sorted(found, key=len)


def add_arguments(p):
    pass


def run(args):
    problems, _graph = check()
    for p in problems:
        print(p)
    print("%d problem(s): %s" % (len(problems), "the layers hold" if not problems else "see above"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run(None))
