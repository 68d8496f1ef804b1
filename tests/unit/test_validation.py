"""studio.core.validation against the real catalog: one test per check."""

from __future__ import annotations

import time

import pytest

from studio.catalog import load_catalog
from studio.core.graph import Edge, Graph, Node, Output
from studio.core.validation import Diagnostic, format_diagnostic, has_errors, validate


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def chain(nodes: list[Node], graph: Graph | None = None) -> Graph:
    """Nodes joined in order through each one's first port; the last one is the output."""
    g = graph or Graph()
    cat = load_catalog()
    prev = None
    for node in nodes:
        g.add_node(node)
        if prev is not None:
            spec = cat.get(node.type)
            port = spec.inputs[0].name if spec else "inputs"
            g.add_edge(Edge(prev.name, 0, node.name, port))
        prev = node
    g.set_outputs([Output(nodes[-1].name)])
    return g


def cnn() -> Graph:
    return chain(
        [
            Node("image", "InputLayer", {"shape": [28, 28, 1]}),
            Node("conv2d", "Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
            Node("max_pooling2d", "MaxPooling2D", {"pool_size": [2, 2]}),
            Node("flatten", "Flatten"),
            Node("dropout", "Dropout", {"rate": 0.5}),
            Node("dense", "Dense", {"units": 10, "activation": "softmax"}),
        ]
    )


def only(diags: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, [format_diagnostic(d) for d in diags]
    return found[0]


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def input_node(name: str = "x", shape: list | None = None) -> Node:
    return Node(name, "InputLayer", {"shape": shape or [8]})


# --------------------------------------------------------------------------- valid graphs
def test_valid_cnn_has_no_diagnostics(catalog):
    assert validate(cnn(), catalog) == []


def test_default_catalog_is_used():
    assert validate(cnn()) == []


def test_merge_graph_is_valid(catalog):
    g = Graph()
    g.add_node(input_node("a"))
    g.add_node(input_node("b"))
    g.add_node(Node("concat", "Concatenate"))
    g.add_node(Node("dense", "Dense", {"units": 3}))
    g.add_edge(Edge("a", 0, "concat", "inputs", 0))
    g.add_edge(Edge("b", 0, "concat", "inputs", 1))
    g.add_edge(Edge("concat", 0, "dense", "inputs"))
    g.set_outputs([Output("dense")])
    assert validate(g, catalog) == []


# --------------------------------------------------------------------------- structure
def test_cycle_names_the_nodes_in_order(catalog):
    g = chain([input_node(), Node("a", "Dense", {"units": 4}), Node("b", "Dense", {"units": 4})])
    g.add_node(Node("c", "Dense", {"units": 4}))
    g.add_node(Node("add", "Add"))
    g.remove_edge(Edge("x", 0, "a", "inputs"))
    g.add_edge(Edge("x", 0, "add", "inputs", 0))
    g.add_edge(Edge("c", 0, "add", "inputs", 1))
    g.add_edge(Edge("add", 0, "a", "inputs"))
    g.add_edge(Edge("b", 0, "c", "inputs"))
    d = only(validate(g, catalog), "cycle")
    assert d.severity == "error"
    assert d.node == "a"
    assert "Cycle: a → b → c → add → a" in d.message


def test_self_loop_is_a_cycle(catalog):
    g = chain([input_node(), Node("add", "Add")])
    g.add_edge(Edge("add", 0, "add", "inputs", 1))
    d = only(validate(g, catalog), "cycle")
    assert d.node == "add" and "add → add" in d.message


def test_unconnected_required_input(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 4})])
    g.add_node(Node("dense_1", "Dense", {"units": 2}))
    g.set_outputs([Output("dense"), Output("dense_1")])
    d = only(validate(g, catalog), "unconnected-input")
    assert (d.severity, d.node, d.port) == ("error", "dense_1", "inputs")
    assert d.message == "'dense_1' has nothing connected to its input 'inputs'."


def test_optional_input_may_stay_unconnected(catalog):
    g = chain([Node("x", "InputLayer", {"shape": [5, 3]}), Node("lstm", "LSTM", {"units": 4})])
    assert validate(g, catalog) == []


def test_merge_layer_needs_two_inputs(catalog):
    g = chain([input_node(), Node("concat", "Concatenate")])
    d = only(validate(g, catalog), "input-count")
    assert (d.severity, d.node, d.port) == ("error", "concat", "inputs")
    assert "'concat'" in d.message and "at least 2" in d.message and "has 1" in d.message


def test_dot_needs_exactly_two_inputs(catalog):
    g = Graph()
    for name in "abc":
        g.add_node(input_node(name))
    g.add_node(Node("dot", "Dot", {"axes": 1}))
    for slot, name in enumerate("abc"):
        g.add_edge(Edge(name, 0, "dot", "inputs", slot))
    g.set_outputs([Output("dot")])
    d = only(validate(g, catalog), "input-count")
    assert d.node == "dot" and "exactly 2" in d.message and "has 3" in d.message


def test_attention_takes_two_or_three_inputs(catalog):
    g = Graph()
    for name in "abcd":
        g.add_node(Node(name, "InputLayer", {"shape": [5, 4]}))
    g.add_node(Node("att", "Attention"))
    g.set_outputs([Output("att")])
    for slot, name in enumerate("abc"):
        g.add_edge(Edge(name, 0, "att", "inputs", slot))
    assert "input-count" not in codes(validate(g, catalog))
    g.add_edge(Edge("d", 0, "att", "inputs", 3))
    d = only(validate(g, catalog), "input-count")
    assert d.node == "att" and "2 or 3" in d.message


def test_edge_into_missing_port(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 4})])
    g.add_node(input_node("y"))
    g.add_edge(Edge("y", 0, "dense", "kernel"))
    d = only(validate(g, catalog), "bad-port")
    assert (d.severity, d.node, d.port) == ("error", "dense", "kernel")
    assert "'dense' has no input 'kernel'" in d.message


def test_edge_from_missing_output(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 4})])
    g.add_node(Node("dense_1", "Dense", {"units": 2}))
    g.add_edge(Edge("dense", 1, "dense_1", "inputs"))
    g.set_outputs([Output("dense_1")])
    d = only(validate(g, catalog), "bad-port")
    assert (d.severity, d.node, d.port) == ("error", "dense_1", "inputs")
    assert "output 1 of 'dense'" in d.message


def test_output_rules_give_extra_outputs(catalog):
    g = chain([Node("x", "InputLayer", {"shape": [5, 3]}), Node("lstm", "LSTM", {"units": 4})])
    g.add_node(Node("state", "Dense", {"units": 2}))
    g.add_edge(Edge("lstm", 2, "state", "inputs"))
    g.set_outputs([Output("lstm"), Output("state")])
    assert "bad-port" in codes(validate(g, catalog))
    g.set_params("lstm", {"units": 4, "return_state": True})
    assert validate(g, catalog) == []


def test_call_param_output_rules_read_call_args(catalog):
    g = Graph()
    g.add_node(Node("q", "InputLayer", {"shape": [5, 4]}))
    g.add_node(Node("mha", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}))
    g.add_edge(Edge("q", 0, "mha", "query"))
    g.add_edge(Edge("q", 0, "mha", "value"))
    g.set_outputs([Output("mha", 1)])
    d = only(validate(g, catalog), "bad-output")
    assert d.node == "mha"
    g.set_call_args("mha", {"return_attention_scores": True})
    assert validate(g, catalog) == []


def test_two_sources_on_single_port(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 4})])
    g.add_node(input_node("y"))
    g.add_edge(Edge("y", 0, "dense", "inputs", 1))
    d = only(validate(g, catalog), "duplicate-source")
    assert (d.severity, d.node, d.port) == ("error", "dense", "inputs")
    assert "'x'" in d.message and "'y'" in d.message


def test_two_sources_in_the_same_slot(catalog):
    g = Graph()
    for name in "abc":
        g.add_node(input_node(name))
    g.add_node(Node("add", "Add"))
    g.add_edge(Edge("a", 0, "add", "inputs", 0))
    g.add_edge(Edge("b", 0, "add", "inputs", 1))
    g.add_edge(Edge("c", 0, "add", "inputs", 1))
    g.set_outputs([Output("add")])
    d = only(validate(g, catalog), "duplicate-source")
    assert d.node == "add" and "'b'" in d.message and "'c'" in d.message


def test_no_input(catalog):
    g = Graph()
    g.add_node(Node("dense", "Dense", {"units": 3}))
    g.set_outputs([Output("dense")])
    d = only(validate(g, catalog), "no-input")
    assert d.severity == "error" and d.node is None
    assert "InputLayer" in d.message


def test_no_output(catalog):
    g = cnn()
    g.set_outputs([])
    d = only(validate(g, catalog), "no-output")
    assert d.severity == "error" and d.node is None
    assert d.message == "The model has no output: mark a node as an output."
    # Without outputs nothing is reported as unreachable.
    assert codes(validate(g, catalog)) == ["no-output"]


def test_output_of_missing_node_or_index(catalog):
    g = cnn()
    g.outputs = [Output("ghost")]
    d = only(validate(g, catalog), "bad-output")
    assert d.severity == "error" and "'ghost'" in d.message
    g.outputs = [Output("dense", 3)]
    d = only(validate(g, catalog), "bad-output")
    assert d.node == "dense" and "output 3 of 'dense'" in d.message


def test_duplicate_output_names(catalog):
    g = cnn()
    g.set_outputs([Output("dense", 0, "y"), Output("flatten", 0, "y")])
    d = only(validate(g, catalog), "bad-output")
    assert "'y'" in d.message


def test_unknown_type(catalog):
    g = chain([input_node(), Node("mystery", "NoSuchLayer")])
    diags = validate(g, catalog)
    d = only(diags, "unknown-type")
    assert (d.severity, d.node) == ("error", "mystery")
    assert "'mystery'" in d.message and "'NoSuchLayer'" in d.message


# --------------------------------------------------------------------------- parameters
def test_required_parameter_missing(catalog):
    g = chain([input_node(), Node("dense", "Dense")])
    d = only(validate(g, catalog), "param-required")
    assert (d.severity, d.node, d.param) == ("error", "dense", "units")
    assert "'dense'" in d.message and "'units'" in d.message


def test_unknown_parameter(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 3, "colour": "red"})])
    d = only(validate(g, catalog), "param-unknown")
    assert (d.severity, d.node, d.param) == ("error", "dense", "colour")
    assert "'colour'" in d.message


def test_config_keys_from_defaults_are_known(catalog):
    assert "trainable" in catalog["Dense"].defaults
    g = chain([input_node(), Node("dense", "Dense", {"units": 3, "trainable": False})])
    assert validate(g, catalog) == []


@pytest.mark.parametrize(
    ("type_", "params", "param", "shown"),
    [
        ("Dense", {"units": "10"}, "units", "units='10'"),
        ("Dense", {"units": True}, "units", "units=True"),
        ("Dense", {"units": 4.5}, "units", "units=4.5"),
        ("Dense", {"units": 4, "use_bias": 1}, "use_bias", "use_bias=1"),
        ("Dense", {"units": 4, "activation": "sparkle"}, "activation", "activation='sparkle'"),
        ("Dense", {"units": 4, "kernel_initializer": 3}, "kernel_initializer", "=3"),
        ("Dense", {"units": 4, "kernel_regularizer": "l7"}, "kernel_regularizer", "'l7'"),
        ("Dense", {"units": 4, "kernel_constraint": {"x": 1}}, "kernel_constraint", "{'x': 1}"),
        ("Conv2D", {"filters": 4, "kernel_size": [3, 3, 3]}, "kernel_size", "[3, 3, 3]"),
        ("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "full"}, "padding", "'full'"),
        ("Dropout", {"rate": "half"}, "rate", "rate='half'"),
        ("Dropout", {"rate": 0.1, "noise_shape": [1, "a"]}, "noise_shape", "[1, 'a']"),
    ],
)
def test_parameter_type(catalog, type_, params, param, shown):
    shape = [8, 8, 1] if type_ == "Conv2D" else [8]
    g = chain([input_node(shape=shape), Node("layer", type_, params)])
    d = only(validate(g, catalog), "param-type")
    assert (d.severity, d.node, d.param) == ("error", "layer", param)
    assert "'layer'" in d.message and shown in d.message


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"units": 4, "activation": "relu"}, True),
        ({"units": 4, "activation": None}, True),
        ({"units": 4, "activation": {"class_name": "ReLU", "config": {}}}, True),
        ({"units": 4, "kernel_initializer": "he_normal"}, True),
        ({"units": 4, "kernel_initializer": "HeNormal"}, True),
        ({"units": 4, "kernel_initializer": {"class_name": "HeNormal", "config": {}}}, True),
        ({"units": 4, "kernel_regularizer": None}, True),
        ({"units": 4, "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}, True),
        ({"units": 4, "kernel_initializer": None}, False),
        ({"units": 4, "dtype": "float16"}, True),
        ({"units": 4, "dtype": {"class_name": "DTypePolicy", "config": {"name": "x"}}}, True),
        ({"units": 4, "dtype": 16}, False),
    ],
)
def test_parameter_kinds_accept_aliases_and_serialized_objects(catalog, params, ok):
    g = chain([input_node(), Node("dense", "Dense", params)])
    assert (validate(g, catalog) == []) is ok


def test_float_parameter_accepts_int(catalog):
    g = chain([input_node(), Node("dropout", "Dropout", {"rate": 0})])
    assert validate(g, catalog) == []


def test_int_or_tuple_accepts_int(catalog):
    g = chain([input_node(shape=[8, 8, 1]), Node("c", "Conv2D", {"filters": 2, "kernel_size": 3})])
    assert validate(g, catalog) == []


def test_parameter_range(catalog):
    g = chain([input_node(), Node("dropout", "Dropout", {"rate": 1.5})])
    d = only(validate(g, catalog), "param-range")
    assert (d.severity, d.node, d.param) == ("error", "dropout", "rate")
    assert d.message == "'dropout' parameter 'rate' is 1.5; it must be between 0 and 1."


def test_parameter_minimum(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": -3})])
    d = only(validate(g, catalog), "param-range")
    assert d.node == "dense" and "is -3" in d.message and "at least 1" in d.message


def test_range_applies_to_tuple_elements(catalog):
    g = chain(
        [input_node(shape=[8, 8, 1]), Node("c", "Conv2D", {"filters": 2, "kernel_size": [3, 0]})]
    )
    d = only(validate(g, catalog), "param-range")
    assert d.param == "kernel_size" and "[3, 0]" in d.message


def test_unknown_call_argument(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 2})])
    g.set_call_args("dense", {"use_causal_mask": True})
    d = only(validate(g, catalog), "param-unknown")
    assert d.node == "dense" and d.param == "use_causal_mask"


def test_input_layer_needs_shape(catalog):
    g = chain([Node("x", "InputLayer"), Node("dense", "Dense", {"units": 2})])
    d = only(validate(g, catalog), "param-required")
    assert (d.severity, d.node, d.param) == ("error", "x", "shape")
    assert "'x'" in d.message


def test_input_layer_batch_shape_replaces_shape(catalog):
    g = chain(
        [Node("x", "InputLayer", {"batch_shape": [None, 8]}), Node("d", "Dense", {"units": 2})]
    )
    assert validate(g, catalog) == []


def test_input_layer_shape_type(catalog):
    g = chain([Node("x", "InputLayer", {"shape": [28, "a"]}), Node("d", "Dense", {"units": 2})])
    d = only(validate(g, catalog), "param-type")
    assert d.node == "x" and d.param == "shape" and "'a'" in d.message


def test_input_layer_with_a_connection(catalog):
    g = chain([input_node(), Node("dense", "Dense", {"units": 2})])
    g.add_node(input_node("y"))
    g.add_edge(Edge("y", 0, "x", "inputs"))
    d = only(validate(g, catalog), "bad-port")
    assert d.node == "x" and "'y'" in d.message


# --------------------------------------------------------------------------- ops
def test_op_port_can_hold_a_constant(catalog):
    g = chain([input_node(), Node("plus", "ops.Add")])
    port = catalog["ops.Add"].inputs[1].name
    d = only(validate(g, catalog), "unconnected-input")
    assert (d.node, d.port) == ("plus", port)
    g.set_call_args("plus", {port: 3.0})
    assert validate(g, catalog) == []


def test_variadic_op_takes_one_tensor(catalog):
    g = chain([input_node(), Node("cat", "ops.Concatenate")])
    assert validate(g, catalog) == []


# --------------------------------------------------------------------------- sharing
def shared_graph(shared_with: str | None, type_: str = "Dense") -> Graph:
    g = Graph()
    g.add_node(input_node("a"))
    g.add_node(input_node("b"))
    g.add_node(Node("dense", "Dense", {"units": 4}))
    g.add_node(
        Node("dense_2", type_, {"units": 4} if type_ == "Dense" else {}, shared_with=shared_with)
    )
    g.add_node(Node("add", "Add"))
    g.add_edge(Edge("a", 0, "dense", "inputs"))
    g.add_edge(Edge("b", 0, "dense_2", "inputs"))
    g.add_edge(Edge("dense", 0, "add", "inputs", 0))
    g.add_edge(Edge("dense_2", 0, "add", "inputs", 1))
    g.set_outputs([Output("add")])
    return g


def test_valid_sharing(catalog):
    assert validate(shared_graph("dense"), catalog) == []


def test_sharer_parameters_are_not_checked(catalog):
    g = shared_graph("dense")
    g.set_params("dense_2", {})
    assert validate(g, catalog) == []


@pytest.mark.parametrize(
    ("owner", "type_", "words"),
    [
        ("ghost", "Dense", "'ghost'"),
        ("dense_2", "Dense", "its own"),
        ("dense", "Flatten", "Flatten"),
    ],
)
def test_bad_sharing(catalog, owner, type_, words):
    d = only(validate(shared_graph(owner, type_), catalog), "bad-shared")
    assert (d.severity, d.node) == ("error", "dense_2")
    assert "'dense_2'" in d.message and words in d.message


# --------------------------------------------------------------------------- nested models
def encoder(broken: bool = False) -> Graph:
    sub = chain(
        [input_node("enc_in"), Node("enc_dense", "Dense", {} if broken else {"units": 4})],
        Graph("encoder"),
    )
    return sub


def nested(sub: Graph | None) -> Graph:
    g = Graph()
    g.add_node(input_node("x"))
    g.add_node(Node("encoder", "Model", subgraph=sub))
    g.add_node(Node("head", "Dense", {"units": 1}))
    g.add_edge(Edge("x", 0, "encoder", "enc_in"))
    g.add_edge(Edge("encoder", 0, "head", "inputs"))
    g.set_outputs([Output("head")])
    return g


def test_valid_nested_model(catalog):
    assert validate(nested(encoder()), catalog) == []


def test_nested_errors_are_prefixed(catalog):
    d = only(validate(nested(encoder(broken=True)), catalog), "param-required")
    assert (d.severity, d.node, d.param) == ("error", "encoder", "units")
    assert d.message.startswith("in 'encoder': ")
    assert "'enc_dense'" in d.message


def test_nested_model_without_subgraph(catalog):
    d = only(validate(nested(None), catalog), "bad-subgraph")
    assert (d.severity, d.node) == ("error", "encoder")


def test_nested_model_ports_are_its_inputs(catalog):
    g = nested(encoder())
    g.remove_edge(Edge("x", 0, "encoder", "enc_in"))
    d = only(validate(g, catalog), "unconnected-input")
    assert (d.node, d.port) == ("encoder", "enc_in")
    g.add_edge(Edge("x", 0, "encoder", "wrong"))
    d = only(validate(g, catalog), "bad-port")
    assert (d.node, d.port) == ("encoder", "wrong")


def test_nested_model_outputs_are_counted(catalog):
    g = nested(encoder())
    g.remove_edge(Edge("encoder", 0, "head", "inputs"))
    g.add_edge(Edge("encoder", 1, "head", "inputs"))
    d = only(validate(g, catalog), "bad-port")
    assert d.node == "head" and "output 1 of 'encoder'" in d.message


# --------------------------------------------------------------------------- warnings
def test_unreachable_node_is_a_warning(catalog):
    g = cnn()
    g.add_node(Node("probe", "Dense", {"units": 2}))
    g.add_edge(Edge("flatten", 0, "probe", "inputs"))
    d = only(validate(g, catalog), "unreachable")
    assert (d.severity, d.node) == ("warning", "probe")
    assert "'probe'" in d.message
    assert not has_errors(validate(g, catalog))


def test_unused_input_is_a_warning(catalog):
    g = cnn()
    g.add_node(input_node("extra"))
    d = only(validate(g, catalog), "unused-input")
    assert (d.severity, d.node) == ("warning", "extra")
    assert "'extra'" in d.message
    assert "unreachable" not in codes(validate(g, catalog))


# --------------------------------------------------------------------------- results
def test_errors_first_then_node_order(catalog):
    g = Graph()
    g.add_node(Node("lonely", "Dense", {"units": 2}))
    g.add_node(input_node())
    g.add_node(Node("d1", "Dense"))
    g.add_node(Node("d2", "Dropout", {"rate": 2.0}))
    g.add_edge(Edge("x", 0, "d1", "inputs"))
    g.add_edge(Edge("d1", 0, "d2", "inputs"))
    g.set_outputs([Output("d2")])
    diags = validate(g, catalog)
    assert [(d.severity, d.node, d.code) for d in diags] == [
        ("error", "lonely", "unconnected-input"),
        ("error", "d1", "param-required"),
        ("error", "d2", "param-range"),
        ("warning", "lonely", "unreachable"),
    ]
    assert has_errors(diags)
    assert not has_errors(diags[-1:])


def test_format_diagnostic():
    d = Diagnostic("error", "'dense_1' has nothing connected to its input 'inputs'.", "dense_1")
    assert format_diagnostic(d) == (
        "error: dense_1: 'dense_1' has nothing connected to its input 'inputs'."
    )
    assert format_diagnostic(Diagnostic("error", "No output.")) == "error: No output."


def test_two_thousand_node_chain_is_fast(catalog):
    nodes = [input_node()] + [Node(f"dense_{i}", "Dense", {"units": 4}) for i in range(2000)]
    g = chain(nodes)
    validate(g, catalog)  # warm up imports
    start = time.perf_counter()
    diags = validate(g, catalog)
    elapsed = time.perf_counter() - start
    print(f"validate: {len(g)} nodes in {elapsed * 1000:.1f} ms")
    assert diags == []
    assert elapsed < 1.0
