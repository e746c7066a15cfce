"""The package's three layers (docs/architecture.md): each imports only from below."""
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from import_graph import cycles, graph, layer_of, upward_imports  # noqa: E402


def test_no_layer_imports_from_one_above_it_and_there_is_no_cycle():
    edges = graph()
    assert upward_imports(edges) == []
    assert cycles(edges) == []
    # every module is in a layer (a new module lands in one by where it is put)
    assert {layer_of(m) for m in edges} == {"library", "experiment", "book"}


def test_upward_imports_are_found():
    """The check can fail: a library module importing the experiment layer is named."""
    edges = {"engine": {"experiment.train"}, "experiment.train": {"engine"}}
    assert upward_imports(edges) == [("engine", "experiment.train")]


def test_the_names_from_before_the_split_are_the_same_modules():
    import mscad

    for old, layer in mscad.MOVED.items():
        moved = importlib.import_module(f"mscad.{layer}.{old}")
        assert importlib.import_module(f"mscad.{old}") is moved
        assert moved.__spec__.name == f"mscad.{layer}.{old}"  # its own spec, not the alias's
