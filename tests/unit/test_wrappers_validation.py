"""Validation of wrapper layers' inner layers: diagnostics name the node and the parameter
path ("layer.units"), and the classes each wrapper takes."""

from __future__ import annotations

import pytest

from studio.catalog import load_catalog
from studio.core.graph import Edge, Graph, Node, Output
from studio.core.validation import ERROR, validate, wrappable_types


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def layer(class_name: str, **config) -> dict:
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }


def _graph(wrapper: str, **params) -> Graph:
    g = Graph("m")
    g.add_node(Node("x", "InputLayer", {"shape": [10, 4]}))
    g.add_node(Node("w", wrapper, params))
    port = "sequences" if wrapper == "Bidirectional" else "inputs"
    g.add_edge(Edge("x", 0, "w", port))
    g.set_outputs([Output("w")])
    return g


def _errors(catalog, wrapper: str, **params) -> list[tuple[str | None, str]]:
    return [
        (d.param, d.message)
        for d in validate(_graph(wrapper, **params), catalog)
        if d.severity == ERROR
    ]


def test_a_good_inner_layer_passes(catalog):
    lstm = layer("LSTM", name="lstm", units=64, return_sequences=True)
    assert _errors(catalog, "Bidirectional", layer=lstm) == []
    backward = layer("LSTM", name="lstm", units=64, return_sequences=True, go_backwards=True)
    assert _errors(catalog, "Bidirectional", layer=lstm, backward_layer=backward) == []
    assert _errors(catalog, "TimeDistributed", layer=layer("Dense", units=8)) == []
    assert _errors(catalog, "SpectralNormalization", layer=layer("Dense", units=8)) == []
    # What Keras itself writes in a config (trainable, dtype...) is understood too.
    full = layer("Dense", name="d", units=8, trainable=False, activation="relu", use_bias=True)
    assert _errors(catalog, "TimeDistributed", layer=full) == []


def test_a_bad_inner_value_names_the_node_and_the_path(catalog):
    errors = _errors(catalog, "Bidirectional", layer=layer("LSTM", name="lstm", units=0))
    assert errors == [("layer.units", "'w' parameter 'layer.units' is 0; it must be at least 1.")]
    errors = _errors(catalog, "TimeDistributed", layer=layer("Dense", units=8, activation="nope"))
    assert [p for p, _ in errors] == ["layer.activation"]
    assert "'w'" in errors[0][1] and "layer.activation" in errors[0][1]
    errors = _errors(catalog, "TimeDistributed", layer=layer("Dropout", rate=1.5))
    assert errors == [
        ("layer.rate", "'w' parameter 'layer.rate' is 1.5; it must be between 0 and 1.")
    ]
    errors = _errors(catalog, "TimeDistributed", layer=layer("Dense", units="8"))
    assert [p for p, _ in errors] == ["layer.units"] and "must be an integer" in errors[0][1]


def test_an_unknown_class_or_parameter(catalog):
    errors = _errors(catalog, "TimeDistributed", layer=layer("Nope", units=3))
    assert errors == [
        ("layer", "'w' parameter 'layer' is a 'Nope', which is not a Keras layer Studio knows.")
    ]
    for not_a_layer in ("InputLayer", "Model", "Add"):  # Add is ops.Add's class, not a layer
        value = (
            layer(not_a_layer) if not_a_layer != "Add" else {**layer("Add"), "module": "keras.ops"}
        )
        assert [p for p, _ in _errors(catalog, "TimeDistributed", layer=value)] == ["layer"]
    errors = _errors(catalog, "TimeDistributed", layer=layer("Dense", units=3, bogus=1))
    assert errors == [("layer.bogus", "'w' parameter 'layer': Dense has no parameter 'bogus'.")]


def test_required_inner_parameters(catalog):
    errors = _errors(catalog, "Bidirectional", layer=layer("LSTM", name="lstm"))
    assert [p for p, _ in errors] == ["layer.units"]
    assert "needs a value for parameter 'layer.units'" in errors[0][1]
    errors = _errors(catalog, "Bidirectional", layer=None)
    assert [p for p, _ in errors] == ["layer"]
    errors = _errors(catalog, "Bidirectional", layer={"config": {}})
    assert [p for p, _ in errors] == ["layer"] and "serialized layer" in errors[0][1]


def test_bidirectional_takes_recurrent_layers_only(catalog):
    errors = _errors(catalog, "Bidirectional", layer=layer("Dense", units=3))
    assert [p for p, _ in errors] == ["layer"] and "recurrent" in errors[0][1]
    backward = layer("GRU", units=-1, go_backwards=True)
    errors = _errors(catalog, "Bidirectional", layer=layer("GRU", units=3), backward_layer=backward)
    assert [p for p, _ in errors] == ["backward_layer.units"]


def test_a_wrapper_in_a_wrapper(catalog):
    inner = layer("Bidirectional", layer=layer("LSTM", units=0))
    errors = _errors(catalog, "TimeDistributed", layer=inner)
    assert errors == [
        ("layer.layer.units", "'w' parameter 'layer.layer.units' is 0; it must be at least 1.")
    ]
    inner = layer("Bidirectional", layer=layer("Dense", units=2))
    assert [p for p, _ in _errors(catalog, "TimeDistributed", layer=inner)] == ["layer.layer"]


def test_a_shared_wrapper_is_not_checked_twice(catalog):
    g = _graph("Bidirectional", layer=layer("LSTM", units=0))
    g.add_node(Node("w2", "Bidirectional", {}, shared_with="w"))
    g.add_edge(Edge("x", 0, "w2", "sequences"))
    errors = [d for d in validate(g, catalog) if d.severity == ERROR]
    assert [(d.node, d.param) for d in errors] == [("w", "layer.units")]


def test_wrappable_types(catalog):
    assert wrappable_types(catalog, "Bidirectional") == [
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "GRU",
        "LSTM",
        "SimpleRNN",
    ]
    sn = wrappable_types(catalog, "SpectralNormalization")
    assert {"Dense", "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "Embedding"} <= set(
        sn
    )
    assert not {"LSTM", "SeparableConv2D", "MultiHeadAttention", "Dropout"} & set(sn)
    td = wrappable_types(catalog, "TimeDistributed")
    assert {"Dense", "Conv2D", "Dropout", "LSTM", "Bidirectional"} <= set(td)
    assert not {"InputLayer", "Model"} & set(td)
    assert not any(t.startswith("ops.") for t in td)


def test_wrappers_have_their_own_category(catalog):
    wrappers = sorted(
        t for t, s in catalog.layers.items() if any(p.kind == "layer" for p in s.params)
    )
    assert wrappers == ["Bidirectional", "SpectralNormalization", "TimeDistributed"]
    assert {catalog[t].category for t in wrappers} == {"Wrappers"}
