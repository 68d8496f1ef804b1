"""The committed layer catalog, read without TensorFlow (resources/catalog.json)."""

import json
import subprocess
import sys

import pytest

from studio.catalog import CATALOG_FILE, load_catalog
from studio.resources import resource_path

KINDS = {
    "int", "float", "bool", "str", "choice", "int_tuple", "int_or_tuple", "float_or_tuple",
    "shape", "int_list", "float_list", "activation", "initializer", "regularizer",
    "constraint", "dtype", "layer", "any",
}  # fmt: skip
PARAM_FIELDS = {
    "name", "kind", "default", "required", "nullable", "min", "max", "choices", "length", "doc",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def raw():
    with open(resource_path(CATALOG_FILE), encoding="utf-8") as f:
        return json.load(f)


def test_header(catalog, raw):
    assert raw["format"] == "studio.catalog"
    assert raw["version"] == 1
    assert catalog.keras_version.startswith("3.")


def test_file_is_in_canonical_form():
    text = resource_path(CATALOG_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_reading_the_catalog_does_not_import_keras():
    code = (
        "import sys; from studio.catalog import load_catalog; load_catalog(); "
        "sys.exit(int('keras' in sys.modules or 'tensorflow' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_most_of_keras_layers_are_entries(catalog, raw):
    types = catalog.keras_layer_types
    assert len(types) >= 120
    names = set(types) | {a for t in types for a in raw["layers"][t].get("aliases", [])}
    assert len(names) >= 150
    assert sum(1 for s in catalog.layers.values() if s.is_op) >= 100


def test_every_entry_is_well_formed(catalog, raw):
    for type_, d in raw["layers"].items():
        spec = catalog[type_]
        assert spec.category and isinstance(spec.description, str), type_
        assert "`" not in spec.description and "\n" not in spec.description, type_
        assert len({p.name for p in spec.inputs}) == len(spec.inputs), type_
        for p in d["params"]:
            assert set(p) == PARAM_FIELDS, (type_, p["name"])
            assert p["kind"] in KINDS, (type_, p["name"], p["kind"])
            if p["kind"] == "choice":
                assert p["choices"], (type_, p["name"])
                assert p["default"] in p["choices"] or p["required"], (type_, p["name"])
            if p["required"]:
                assert p["name"] not in d["defaults"], (type_, p["name"])
        assert "name" not in d["defaults"], type_
        for cp in d["call_params"]:
            assert cp["kind"] in KINDS, (type_, cp["name"])
        for rule in spec.output_rules:
            assert {"param", "value", "outputs"} <= set(rule), type_
            names = {p.name for p in (spec.call_params if rule.get("call_param") else spec.params)}
            assert rule["param"] in names, (type_, rule["param"])


def test_dense(catalog):
    dense = catalog["Dense"]
    assert dense.common and dense.category == "Core"
    assert dense.description == "Just your regular densely-connected NN layer."
    units = dense.param("units")
    assert units.required and units.kind == "int" and units.min == 1
    assert dense.param("activation").kind == "activation"
    assert dense.param("kernel_initializer").kind == "initializer"
    assert dense.param("kernel_initializer").default == "glorot_uniform"
    assert dense.param("kernel_regularizer").kind == "regularizer"
    assert dense.param("dtype").kind == "dtype"
    assert dense.param("name") is None and dense.param("trainable") is None
    assert [p.name for p in dense.inputs] == ["inputs"]
    assert dense.outputs == ("output",)
    assert dense.defaults["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert dense.defaults["activation"] == "linear"
    assert "units" not in dense.defaults
    assert dense.config({"units": 8})["units"] == 8


def test_merge_ports_are_variadic(catalog):
    for type_ in ("Concatenate", "Add", "Multiply", "Average", "Dot", "Attention"):
        (port,) = catalog[type_].inputs
        assert port.name == "inputs" and port.variadic and not port.optional, type_


def test_lstm_outputs(catalog):
    lstm = catalog["LSTM"]
    assert [(p.name, p.optional) for p in lstm.inputs] == [
        ("sequences", False),
        ("initial_state", True),
    ]
    assert lstm.output_names() == ("output",)
    assert lstm.output_names({"return_state": True}) == ("output", "state_h", "state_c")
    assert catalog["GRU"].output_names({"return_state": True}) == ("output", "state")
    assert catalog["SimpleRNN"].output_names({"return_state": True}) == ("output", "state")


def test_multi_head_attention(catalog):
    mha = catalog["MultiHeadAttention"]
    assert [(p.name, p.optional) for p in mha.inputs] == [
        ("query", False),
        ("value", False),
        ("key", True),
        ("query_mask", True),
        ("value_mask", True),
        ("key_mask", True),
        ("attention_mask", True),
    ]
    assert {p.name for p in mha.call_params} == {"return_attention_scores", "use_causal_mask"}
    assert mha.call_param("use_causal_mask").kind == "bool"
    (rule,) = mha.output_rules
    assert rule["call_param"] is True and rule["param"] == "return_attention_scores"
    assert rule["outputs"] == ["output", "attention_scores"]


def test_input_layer_and_wrappers(catalog):
    inp = catalog["InputLayer"]
    assert inp.inputs == () and inp.category == "Inputs"
    assert inp.param("shape").required and inp.param("shape").kind == "shape"
    assert catalog["Bidirectional"].param("layer").kind == "layer"
    assert catalog["Bidirectional"].param("merge_mode").choices == (
        "sum", "mul", "concat", "ave", None,
    )  # fmt: skip
    assert catalog["TimeDistributed"].param("layer").kind == "layer"


def test_curated_kinds_and_choices(catalog):
    conv = catalog["Conv2D"]
    assert conv.param("kernel_size").kind == "int_or_tuple"
    assert conv.param("kernel_size").length == 2
    assert conv.param("padding").choices == ("valid", "same")
    assert catalog["Conv1D"].param("padding").choices == ("valid", "same", "causal")
    assert conv.param("data_format").choices == ("channels_last", "channels_first", None)
    assert catalog["Dropout"].param("rate").min == 0 and catalog["Dropout"].param("rate").max == 1
    assert catalog["Reshape"].param("target_shape").kind == "shape"
    assert catalog["MaxPooling2D"].defaults["strides"] is None


def test_aliases_and_model(catalog, raw):
    assert "Convolution2D" in raw["layers"]["Conv2D"]["aliases"]
    assert "Convolution2D" not in catalog
    model = raw["layers"]["Model"]
    assert model["category"] == "Models" and model["dynamic_ports"] is True
    assert model["inputs"] == [] and model["outputs"] == [] and model["params"] == []


def test_ops(catalog, raw):
    add = catalog["ops.Add"]
    assert add.is_op and add.category == "Operations"
    assert add.module == "keras.src.ops.numpy"
    assert [p.name for p in add.inputs] == ["x1", "x2"]
    assert raw["layers"]["ops.Absolute"]["function"] == "absolute"
    assert "abs" in raw["layers"]["ops.Absolute"]["aliases"]
    assert catalog.by_class("keras.src.ops.numpy", "Sum") is catalog["ops.Sum"]
    assert catalog["ops.Sum"].param("keepdims").default is False
    assert catalog["ops.Concatenate"].inputs[0].variadic
    for fn in ("matmul", "mean", "reshape", "transpose", "relu", "softmax", "stack"):
        assert any(d.get("function") == fn for d in raw["layers"].values()), fn


def test_top_level_choices_and_aliases(catalog):
    assert {"relu", "sigmoid", "softmax", "tanh", "gelu", "linear"} <= set(
        catalog.choices["activation"]
    )
    assert {"glorot_uniform", "he_normal", "zeros", "orthogonal"} <= set(
        catalog.choices["initializer"]
    )
    assert {"l1", "l2"} <= set(catalog.choices["regularizer"])
    assert {"max_norm", "non_neg", "unit_norm"} <= set(catalog.choices["constraint"])
    assert catalog.choices["data_format"] == ["channels_last", "channels_first"]
    assert "float32" in catalog.choices["dtype"]
    assert catalog.aliases["initializer"]["GlorotUniform"] == "glorot_uniform"
    for spec in catalog.layers.values():
        for p in spec.params:
            if p.kind in ("activation", "initializer", "regularizer", "constraint"):
                if isinstance(p.default, str):
                    assert p.default in catalog.choices[p.kind], (spec.type, p.name, p.default)


def test_common_layers(catalog):
    common = {t for t, s in catalog.layers.items() if s.common}
    assert 20 <= len(common) <= 30
    assert {"Dense", "Conv2D", "LSTM", "Concatenate", "InputLayer"} <= common
