"""Custom code definitions, read without running them: checks, specs, storage, undo."""

from __future__ import annotations

import json

import pytest

from studio.core.code import (
    STARTERS,
    CodeDef,
    catalog_for,
    check_source,
    code_fingerprint,
    defined_name,
    init_accepts_kwargs,
    layer_spec,
)
from studio.core.commands import AddNode, SetCode, UndoStack
from studio.core.graph import Edge, Graph, Node, Output
from studio.core.settings import check_settings
from studio.core.validation import validate
from studio.project import Project, ProjectError, dumps_project, loads_project

LAYER = CodeDef("CustomLayer", "layer", STARTERS["layer"])
LOSS = CodeDef("custom_loss", "loss", STARTERS["loss"])


def _graph() -> Graph:
    g = Graph("net")
    g.set_code("CustomLayer", LAYER)
    g.add_node(Node("x", "InputLayer", {"shape": [8]}))
    g.add_node(Node("c", "custom.CustomLayer", {"units": 16}))
    g.add_edge(Edge("x", 0, "c", "inputs"))
    g.set_outputs([Output("c")])
    return g


# --------------------------------------------------------------------------- checks
def test_starters_are_clean_and_name_what_they_define():
    assert {k: check_source(v, k) for k, v in STARTERS.items()} == {
        "layer": [], "loss": [], "metric": []}  # fmt: skip
    assert defined_name(STARTERS["layer"], "layer") == "CustomLayer"
    assert defined_name(STARTERS["loss"], "loss") == "custom_loss"
    assert defined_name(STARTERS["metric"], "metric") == "mean_abs_percentage"
    assert defined_name("def f(:", "loss") is None


def test_syntax_errors_have_line_and_column():
    [p] = check_source("import keras\n\ndef f(y_true, y_pred):\n    return (y_true +\n", "loss")
    assert p.line == 4 and p.column == 12 and p.message.startswith("SyntaxError:")
    [p] = check_source("x = 1\n  y = 2\n", "loss")
    assert p.line == 2 and "indent" in p.message
    # compile() errors that ast.parse lets through
    [p] = check_source("def f(y_true, y_pred):\n    pass\nreturn 1\n", "loss")
    assert p.line == 3 and "'return' outside function" in p.message


def test_structure_errors():
    [p] = check_source("x = 1\n", "layer")
    assert "class" in p.message and "call method" in p.message
    [p] = check_source("class A:\n    def call(self, inputs):\n        return inputs\n", "layer")
    assert p.line == 1 and "subclass keras.layers.Layer" in p.message
    [p] = check_source("import keras\nclass A(keras.layers.Layer):\n    def call(self):\n"
                       "        return 1\n", "layer")  # fmt: skip
    assert p.line == 3 and "input tensor" in p.message
    [p] = check_source("def f(x):\n    return x\n", "loss")
    assert p.line == 1 and "(y_true, y_pred)" in p.message
    [p] = check_source("X = 1\n", "metric")
    assert "keras.metrics.Metric subclass" in p.message
    metric_class = (
        "import keras\nclass M(keras.metrics.Metric):\n    def update_state(self, a, b):\n"
        "        pass\n    def result(self):\n        return 0\n"
    )
    assert check_source(metric_class, "metric") == []
    assert defined_name(metric_class, "metric") == "M"
    assert check_source("", "nope")[0].message.startswith("Unknown kind")


def test_the_layer_is_the_last_class_with_call():
    source = (
        "import keras\nclass Helper(keras.layers.Layer):\n    def call(self, x):\n"
        "        return x\nclass Util:\n    pass\nclass Main(keras.layers.Layer):\n"
        "    def call(self, x):\n        return x\n"
    )
    assert defined_name(source, "layer") == "Main"


# --------------------------------------------------------------------------- specs
def test_layer_spec_of_the_seed():
    spec = layer_spec(LAYER)
    assert spec.type == "custom.CustomLayer" and spec.category == "Custom"
    assert spec.module == "studio.custom" and spec.class_name == "CustomLayer"
    assert [p.name for p in spec.inputs] == ["inputs"]
    assert not spec.inputs[0].optional and not spec.inputs[0].variadic
    [units] = spec.params
    assert (units.name, units.kind, units.default, units.required) == ("units", "int", 32, False)
    assert spec.outputs == ("output",) and spec.call_params == ()
    assert not init_accepts_kwargs(LAYER)


def test_layer_spec_ports_and_params_from_signatures():
    source = '''\
import keras

class Mix(keras.layers.Layer):
    """Mixes tensors."""

    def __init__(self, rate, scale=0.5, flag=True, label="a", sizes=(1, 2), fn=len, **kw):
        super().__init__(**kw)

    def call(self, query, value, key=None, *more, training=None, mask=None, alpha=2.0):
        return query
'''
    spec = layer_spec(CodeDef("Mix", "layer", source))
    assert spec.description == "Mixes tensors."
    ports = [(p.name, p.optional, p.variadic) for p in spec.inputs]
    assert ports == [("query", False, False), ("value", False, False), ("key", True, False),
                     ("more", False, True)]  # fmt: skip
    params = {p.name: (p.kind, p.default, p.required) for p in spec.params}
    assert params == {
        "rate": ("any", None, True),
        "scale": ("float", 0.5, False),
        "flag": ("bool", True, False),
        "label": ("str", "a", False),
        "sizes": ("int_list", [1, 2], False),
        "fn": ("any", None, False),
    }
    assert [(p.name, p.kind) for p in spec.call_params] == [
        ("training", "bool"), ("mask", "any"), ("alpha", "float")]  # fmt: skip
    assert init_accepts_kwargs(CodeDef("Mix", "layer", source))


def test_a_broken_layer_still_has_a_spec():
    spec = layer_spec(CodeDef("Bad", "layer", "class Bad(:\n"))
    assert spec.type == "custom.Bad" and [p.name for p in spec.inputs] == ["inputs"]


def test_catalog_overlay_validates_custom_nodes():
    g = _graph()
    catalog = catalog_for(g)
    assert catalog.get("custom.CustomLayer") is not None
    assert catalog_for(g) is catalog  # cached by fingerprint
    assert catalog_for(Graph()) is not catalog and "custom.CustomLayer" not in catalog_for(Graph())
    assert validate(g) == []
    g.set_params("c", {"units": "many"})
    assert [d.param for d in validate(g)] == ["units"]
    g.set_params("c", {"unknown": 1})
    assert [d.code for d in validate(g)] == ["param-unknown"]


def test_validation_reports_code_problems_with_their_line():
    g = _graph()
    g.set_code("CustomLayer", CodeDef("CustomLayer", "layer", "class CustomLayer(:\n"))
    [d] = [d for d in validate(g) if d.code == "code"]
    assert d.is_error and d.message.startswith("Code 'CustomLayer', line 1: SyntaxError")


def test_fingerprint_follows_the_code():
    g = _graph()
    first = code_fingerprint(g)
    assert code_fingerprint(g.copy()) == first
    g.set_code("CustomLayer", CodeDef("CustomLayer", "layer", LAYER.source + "\n# note\n"))
    assert code_fingerprint(g) != first
    g.set_code("CustomLayer", LAYER)
    assert code_fingerprint(g) == first


# --------------------------------------------------------------------------- the graph
def test_code_is_part_of_the_graph_and_its_copies():
    g = _graph()
    events = []
    g.subscribe(events.append)
    g.set_code("custom_loss", LOSS)
    assert [(e.kind, e.node) for e in events] == [("code_changed", "custom_loss")]
    assert list(g.code) == ["CustomLayer", "custom_loss"]
    g.trusted_code = True
    c = g.copy()
    assert c == g and c.structure() == g.structure() and c.trusted_code
    c.set_code("custom_loss", None)
    assert c != g and c.structure() != g.structure()
    g.replace_with(c)
    assert list(g.code) == ["CustomLayer"] and g.trusted_code
    import pickle

    p = pickle.loads(pickle.dumps(c))
    assert p.code == c.code and p.trusted_code


def test_set_code_undo_redo_and_merge():
    g = _graph()
    stack = UndoStack(g)
    source = LAYER.source
    stack.push(
        SetCode(g, "CustomLayer", CodeDef("CustomLayer", "layer", source + "#a\n")), merge=True
    )
    stack.push(
        SetCode(g, "CustomLayer", CodeDef("CustomLayer", "layer", source + "#ab\n")), merge=True
    )
    stack.push(
        SetCode(g, "CustomLayer", CodeDef("CustomLayer", "layer", source + "#abc\n")), merge=True
    )
    assert stack.index == 1 and stack.undo_text() == "Edit code CustomLayer"
    stack.undo()
    assert g.code["CustomLayer"].source == source
    stack.redo()
    assert g.code["CustomLayer"].source == source + "#abc\n"
    # adding is its own step, removing too
    stack.push(SetCode(g, "custom_loss", LOSS), merge=True)
    stack.push(SetCode(g, "custom_loss", None), merge=True)
    assert stack.index == 3 and "custom_loss" not in g.code
    stack.undo()
    assert g.code["custom_loss"] == LOSS
    stack.undo()
    assert "custom_loss" not in g.code


def test_renaming_the_class_retypes_its_nodes_in_one_step():
    g = _graph()
    inner = Graph("inner")
    inner.add_node(Node("i", "InputLayer", {"shape": [8]}))
    inner.add_node(Node("deep", "custom.CustomLayer"))
    inner.add_edge(Edge("i", 0, "deep", "inputs"))
    inner.set_outputs([Output("deep")])
    stack = UndoStack(g)
    stack.push(AddNode(Node("m", "Model", subgraph=inner)))
    before = g.copy()
    typed = ["CustomLaye", "CustomLay", "Dense2"]
    name = "CustomLayer"
    for new in typed:
        source = LAYER.source.replace("class CustomLayer", f"class {new}")
        stack.push(SetCode(g, name, CodeDef(new, "layer", source)), merge=True)
        name = new
    assert list(g.code) == ["Dense2"]
    assert g.node("c").type == "custom.Dense2"
    assert g.node("m").subgraph.node("deep").type == "custom.Dense2"
    assert stack.index == 2 and stack.undo_text() == "Rename code CustomLayer → Dense2"
    stack.undo()
    assert g == before and g.node("m").subgraph.node("deep").type == "custom.CustomLayer"
    stack.redo()
    assert g.node("c").type == "custom.Dense2"


# --------------------------------------------------------------------------- files
def test_code_round_trips_through_the_file_and_is_never_trusted_on_load():
    g = _graph()
    g.set_code("custom_loss", LOSS)
    g.trusted_code = True
    text = dumps_project(Project("p", g))
    data = json.loads(text)
    assert data["graph"]["code"] == [
        {"name": "CustomLayer", "kind": "layer", "source": LAYER.source},
        {"name": "custom_loss", "kind": "loss", "source": LOSS.source},
    ]
    loaded = loads_project(text)
    assert loaded.graph.code == g.code and loaded.graph == g
    assert loaded.graph.trusted_code is False
    assert dumps_project(loaded) == text
    assert "code" not in json.loads(dumps_project(Project("p", Graph())))["graph"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ({}, 'The "code" of the network must be a list'),
        ([3], "Code definition #1 must be an object"),
        ([{"name": "a", "kind": "loss"}], 'Code definition #1 has no "source"'),
        ([{"name": "a", "kind": "loss", "source": 1}], 'has a "source" that is not text'),
        ([{"name": "a b", "kind": "loss", "source": ""}], "which is not a Python name"),
        ([{"name": "a", "kind": "model", "source": ""}], "it must be one of layer, loss, metric"),
        ([{"name": "a", "kind": "loss", "source": ""}] * 2, "Two code definitions are named"),
    ],
)
def test_malformed_code_entries_are_located(code, message):
    g = _graph()
    data = json.loads(dumps_project(Project("p", g)))
    data["graph"]["code"] = code
    text = json.dumps(data, indent=2)
    with pytest.raises(ProjectError) as info:
        loads_project(text, source="p.studio.json")
    assert message in str(info.value)
    assert info.value.line is not None and info.value.line > 1


def test_check_settings_accepts_only_defined_custom_losses_and_metrics():
    g = _graph()
    g.set_code("custom_loss", LOSS)
    settings = {"training": {"losses": {"c": {"class": "custom.custom_loss"}},
                             "metrics": {"c": [{"class": "custom.custom_loss"}]}}}  # fmt: skip
    [d] = [d for d in check_settings(settings, g) if d.is_error]
    assert d.param == "training.metrics.c.0.class"
    assert "defines no metric 'custom_loss'" in d.message and "custom metrics: none" in d.message
    settings["training"]["metrics"]["c"] = []
    assert [d for d in check_settings(settings, g) if d.is_error] == []
    settings["training"]["losses"]["c"]["class"] = "custom.nope"
    [d] = [d for d in check_settings(settings, g) if d.is_error]
    assert "custom losses: custom.custom_loss" in d.message
