"""mscad's import graph: modules, import edges, cycles and layers (the longest chain of
imports below a module), from the source (top-level and function-level imports alike).

    python tools/import_graph.py
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mscad"


def graph() -> dict:
    modules = {p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", "."): p
               for p in PACKAGE.rglob("*.py")}
    modules = {k.removesuffix(".__init__"): v for k, v in modules.items()}
    edges = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mscad"):
                target = node.module.removeprefix("mscad").lstrip(".")
                candidates = [target] + [f"{target}.{a.name}".lstrip(".") for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name.removeprefix("mscad.") for a in node.names if a.name.startswith("mscad.")]
            else:
                continue
            for c in candidates:
                if c in modules and c != name and c != "":
                    edges[name].add(c)
    return edges


LAYERS = ("library", "experiment", "book")  # bottom to top (docs/architecture.md)


def layer_of(module: str) -> str:
    """The package layer of a module: its subpackage, or the library at the top level."""
    head = module.split(".")[0]
    return head if head in ("experiment", "book") else "library"


def upward_imports(edges) -> list:
    """(module, imported) pairs where a module imports from a layer above its own
    (``__main__``, the command's entry point, may import the command line)."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return sorted((m, t) for m, targets in edges.items() for t in targets
                  if m != "__main__" and rank[layer_of(t)] > rank[layer_of(m)])


def cycles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            strong(v)
    return out


def layers(edges, cyc):
    group = {m: tuple(c) for c in cyc for m in c}
    depth = {}

    def d(m, seen=()):
        if m in depth:
            return depth[m]
        below = [w for w in edges[m] if group.get(w, w) != group.get(m, m) and w not in seen]
        depth[m] = 1 + max((d(w, seen + (m,)) for w in below), default=0)
        return depth[m]

    for m in edges:
        d(m)
    return depth


if __name__ == "__main__":
    import sys

    sys.setrecursionlimit(10000)
    e = graph()
    c = cycles(e)
    depth = layers(e, c)
    print(f"{len(e)} modules, {sum(map(len, e.values()))} import edges, {len(c)} import cycles, "
          f"{max(depth.values())} layers")
    for comp in c:
        print("cycle:", " <-> ".join(comp))
    for level in range(1, max(depth.values()) + 1):
        print(f"layer {level}: {', '.join(sorted(m for m, v in depth.items() if v == level))}")
    for name in LAYERS:
        print(f"package layer {name}: {sum(layer_of(m) == name for m in e)} modules")
    up = upward_imports(e)
    print(f"imports from a package layer above: {len(up)}" + "".join(f"\n  {m} -> {t}" for m, t in up))
