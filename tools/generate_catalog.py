"""Generate ``resources/catalog.json`` from the installed Keras.

Usage::

    python tools/generate_catalog.py           # (re)write resources/catalog.json and
                                               # resources/layer_docs.json (the docstrings)
    python tools/generate_catalog.py --check   # exit 1 if the committed file is stale

The catalog (schema in :mod:`studio.catalog`) describes every public ``keras.layers`` class
that can stand alone as a node, a nested ``Model`` node and the ``keras.ops`` operations, so
Studio never needs TensorFlow to draw or validate a graph. Everything that Keras does not say
about itself (which parameters are shapes, their ranges and choices, which layers are common)
is curated in the tables at the top of this file. ``docs/catalog.md`` lists what is left out.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parent.parent
CATALOG_PATH = ROOT / "resources" / "catalog.json"
# Each entry's whole Keras docstring, for Help > Layer Documentation (kept out of catalog.json
# so the catalog, read at every start, stays lean).
DOCS_PATH = ROOT / "resources" / "layer_docs.json"

# --------------------------------------------------------------------------- curation

# Public names in keras.layers that are not catalog entries, and why (docs/catalog.md).
EXCLUDED = {
    "InputSpec": "not a layer: a description of the inputs a layer accepts",
    "Layer": "abstract base class of all layers",
    "Wrapper": "abstract base class of the wrapper layers",
    "RNN": "needs a cell object (a cell layer), and cells are not nodes",
    "LSTMCell": "a recurrent cell, run by an RNN layer; never called on a graph tensor",
    "GRUCell": "a recurrent cell, run by an RNN layer; never called on a graph tensor",
    "SimpleRNNCell": "a recurrent cell, run by an RNN layer; never called on a graph tensor",
    "StackedRNNCells": "a stack of recurrent cells, run by an RNN layer",
    "Lambda": "wraps arbitrary Python code; Studio offers a custom-code node instead",
    "Pipeline": "a container of preprocessing layers; chain the layers as nodes instead",
    "TorchModuleWrapper": "framework bridge: wraps a PyTorch module object",
    "JaxLayer": "framework bridge: wraps JAX functions",
    "FlaxLayer": "framework bridge: wraps a Flax module object",
    "TFSMLayer": "framework bridge: loads an exported TensorFlow SavedModel from disk",
}

COMMON = {
    "Dense", "Conv2D", "Conv1D", "MaxPooling2D", "Flatten", "Dropout", "BatchNormalization",
    "LSTM", "GRU", "Embedding", "InputLayer", "Concatenate", "Add", "Activation",
    "LayerNormalization", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "Bidirectional",
    "MultiHeadAttention", "Reshape", "AveragePooling2D", "SimpleRNN", "Conv2DTranspose",
    "Rescaling", "Normalization", "TextVectorization",
}  # fmt: skip

# Arguments for the constructor parameters that have no default, so a default instance (and
# its get_config()) can be made. A ("Class", {...}) tuple is an inner layer for a wrapper.
# These values never reach the catalog: required keys are dropped from "defaults".
REQUIRED_EXAMPLES: dict[str, dict[str, Any]] = {
    "Activation": {"activation": "relu"},
    "AlphaDropout": {"rate": 0.5},
    "Dropout": {"rate": 0.5},
    "GaussianDropout": {"rate": 0.5},
    "GaussianNoise": {"stddev": 0.1},
    "SpatialDropout1D": {"rate": 0.5},
    "SpatialDropout2D": {"rate": 0.5},
    "SpatialDropout3D": {"rate": 0.5},
    "Dense": {"units": 1},
    "EinsumDense": {"equation": "ab,bc->ac", "output_shape": 1},
    "Embedding": {"input_dim": 10, "output_dim": 4},
    "ReversibleEmbedding": {"input_dim": 10, "output_dim": 4},
    "Reshape": {"target_shape": (1,)},
    "Permute": {"dims": (1,)},
    "RepeatVector": {"n": 2},
    "Dot": {"axes": 1},
    "Rescaling": {"scale": 1.0},
    "CenterCrop": {"height": 8, "width": 8},
    "RandomCrop": {"height": 8, "width": 8},
    "Resizing": {"height": 8, "width": 8},
    "RandomTranslation": {"height_factor": 0.1, "width_factor": 0.1},
    "RandomZoom": {"height_factor": 0.1},
    "MaxNumBoundingBoxes": {"max_number": 1},
    "HashedCrossing": {"num_bins": 8},
    "Hashing": {"num_bins": 8},
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 4},
    "GroupQueryAttention": {"head_dim": 4, "num_query_heads": 2, "num_key_value_heads": 1},
    "CategoryEncoding": {"num_tokens": 4},
    "Discretization": {"num_bins": 2},
    "LSTM": {"units": 1},
    "GRU": {"units": 1},
    "SimpleRNN": {"units": 1},
    "Bidirectional": {"layer": ("LSTM", {"units": 1})},
    "TimeDistributed": {"layer": ("Dense", {"units": 1})},
    "SpectralNormalization": {"layer": ("Dense", {"units": 1})},
    "InputLayer": {"shape": (1,)},
}
for _name in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
              "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "ConvLSTM1D",
              "ConvLSTM2D", "ConvLSTM3D"):  # fmt: skip
    REQUIRED_EXAMPLES[_name] = {"filters": 1, "kernel_size": 1}
for _name in ("DepthwiseConv1D", "DepthwiseConv2D"):
    REQUIRED_EXAMPLES[_name] = {"kernel_size": 1}
for _dim in "123":
    REQUIRED_EXAMPLES[f"AveragePooling{_dim}D"] = {"pool_size": 2}
    REQUIRED_EXAMPLES[f"AdaptiveAveragePooling{_dim}D"] = {"output_size": 1}
    REQUIRED_EXAMPLES[f"AdaptiveMaxPooling{_dim}D"] = {"output_size": 1}
for _name in ("RandomBrightness", "RandomColorDegeneration", "RandomContrast", "RandomHue",
              "RandomPosterization", "RandomRotation", "RandomSaturation",
              "RandomSharpness"):  # fmt: skip
    REQUIRED_EXAMPLES[_name] = {"factor": 0.5 if _name != "RandomPosterization" else 4}

# What a node dropped from the palette starts with: values for the required parameters that
# make a useful layer at once (REQUIRED_EXAMPLES are the smallest that build, not these).
STARTERS: dict[str, dict[str, Any]] = {
    "Dense": {"units": 32},
    "EinsumDense": {"equation": "ab,bc->ac", "output_shape": 32},
    "Embedding": {"input_dim": 10000, "output_dim": 128},
    "ReversibleEmbedding": {"input_dim": 10000, "output_dim": 128},
    "LSTM": {"units": 64},
    "GRU": {"units": 64},
    "SimpleRNN": {"units": 64},
    "Bidirectional": {"layer": ("LSTM", {"units": 64, "return_sequences": True})},
    "TimeDistributed": {"layer": ("Dense", {"units": 32})},
    "SpectralNormalization": {"layer": ("Dense", {"units": 32})},
    "MultiHeadAttention": {"num_heads": 4, "key_dim": 32},
    "InputLayer": {"shape": (28, 28, 1)},
    "Reshape": {"target_shape": (-1,)},
    "Rescaling": {"scale": 1 / 255},
    "Resizing": {"height": 224, "width": 224},
    "CenterCrop": {"height": 224, "width": 224},
    "RandomCrop": {"height": 224, "width": 224},
    "Hashing": {"num_bins": 64},
    "HashedCrossing": {"num_bins": 64},
    "CategoryEncoding": {"num_tokens": 10},
}
for _name in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
              "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "ConvLSTM1D",
              "ConvLSTM2D", "ConvLSTM3D"):  # fmt: skip
    _rank = int(re.search(r"([123])D", _name).group(1))  # Conv1DTranspose: 1
    STARTERS[_name] = {"filters": 32, "kernel_size": [3] * _rank}
for _name in ("DepthwiseConv1D", "DepthwiseConv2D"):
    STARTERS[_name] = {"kernel_size": [3] * int(_name[-2])}


def starter_params(class_name: str) -> dict[str, Any]:
    """JSON values for a new node's required parameters (inner layers serialized)."""
    import keras

    out = {}
    for key, value in {**REQUIRED_EXAMPLES.get(class_name, {}), **STARTERS.get(class_name, {})}.items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            inner = getattr(keras.layers, value[0])
            value = {
                "module": "keras.layers",
                "class_name": value[0],
                "config": {"name": value[0].lower(), **jsonable(value[1])},
                "registered_name": None,
            }
            assert inner is not None
        out[key] = jsonable(value)
    return out


# Config keys whose get_config() value follows from the example arguments above; they get
# the value a node starts with instead. InputLayer stores `shape` as `batch_shape`.
# Likewise values Keras computes from other arguments (pooling strides default to the pool
# size, value_dim to key_dim) and RandomCrop's seed, which is drawn at random when None.
DERIVED_DEFAULTS = {
    "Bidirectional": {"backward_layer": None},
    "InputLayer": {"batch_shape": None},
    "Discretization": {"num_bins": None},
    "MultiHeadAttention": {"value_dim": None},
    "MelSpectrogram": {"sequence_length": None, "max_freq": None},
    "RandomCrop": {"seed": None},
}
for _dim in "123":
    DERIVED_DEFAULTS[f"MaxPooling{_dim}D"] = {"strides": None}
    DERIVED_DEFAULTS[f"AveragePooling{_dim}D"] = {"strides": None}

# Layers whose default instance cannot be made with Studio's dependencies (STFTSpectrogram
# needs scipy): their "defaults" come from the constructor signature instead.
SIGNATURE_DEFAULTS = {"STFTSpectrogram"}

# Parameters that must be set although the signature gives them a default.
ALSO_REQUIRED = {
    ("InputLayer", "shape"),
    ("CategoryEncoding", "num_tokens"),
    ("ops.MultiHot", "num_classes"),
}

# Layers documented elsewhere: InputLayer has no docstring, keras.Input has.
DOC_SOURCES = {"InputLayer": "Input"}
DESCRIPTIONS = {
    "InputLayer": "A model input: a placeholder for a tensor of a given shape and dtype.",
    "LayerScale": "Multiplies its input by a learned per-channel scale (from ConvNeXt).",
    "CustomScaleLayer": "Adds its second input, times a fixed scale, to its first "
    "(the residual scaling of InceptionResNetV2).",
}

# Documentation for common parameters a Keras docstring leaves out.
GENERIC_DOCS = {
    "dtype": "The dtype policy of the layer (compute and variable dtype); None uses the "
    "global policy.",
    "data_format": "channels_last (inputs shaped (batch, ..., channels)) or channels_first "
    "(inputs shaped (batch, channels, ...)); None uses image_data_format from the Keras "
    "config, channels_last unless changed.",
    "seed": "Integer seed for the random number generator; None gives a different sequence "
    "each run.",
}

# Constructor parameters that are not node parameters.
SKIP_PARAMS = {"self", "name", "trainable", "weights", "input_tensor", "autocast"}
# Call arguments that are not ports: Keras passes these itself.
SKIP_CALL_ARGS = {"self", "training", "mask"}

# Parameter kinds by name; ints and floats carry their usual range.
INT_MIN1 = {
    "units", "filters", "num_heads", "key_dim", "value_dim", "head_dim", "num_query_heads",
    "num_key_value_heads", "input_dim", "output_dim", "n", "groups", "depth_multiplier",
    "num_tokens", "num_bins", "max_tokens", "max_number", "bins", "num_chains", "chain_depth",
    "num_ops", "num_mel_bins", "frame_length", "frame_step", "fft_length", "sequence_stride",
    "sequence_length", "sampling_rate", "power_iterations", "output_sequence_length",
    "batch_size", "lora_rank", "height", "width", "sliding_window", "block_size", "num_classes",
}  # fmt: skip
INT_MIN0 = {"num_oov_indices", "seed", "gptq_unpacked_column_size"}
INTS = {"k", "kth", "axis1", "axis2", "offset"}
FLOAT_UNIT = {"rate", "dropout", "recurrent_dropout", "momentum", "renorm_momentum"}
FLOAT_MIN0 = {
    "epsilon", "stddev", "l1", "l2", "negative_slope", "max_value", "clip_limit", "sigma",
    "top_db", "min_freq", "max_freq", "mag_exp", "min_power", "ref_power", "lora_alpha",
}  # fmt: skip
FLOATS = {"threshold", "fill_value", "logit_soft_cap", "x_min", "x_max", "max_val",
          "default_value"}  # fmt: skip
# Spatial sizes: an int or one int per spatial dimension (the "1D/2D/3D" in the class name).
SPATIAL = {"kernel_size", "strides", "pool_size", "dilation_rate", "size", "output_size",
           "output_padding", "cropping"}  # fmt: skip
NAME_KINDS = {
    "target_shape": "shape", "shape": "shape", "batch_shape": "shape", "noise_shape": "shape",
    "output_shape": "shape", "newshape": "shape",
    "dims": "int_list", "shared_axes": "int_list",
    "attention_axes": "int_or_tuple", "ngrams": "int_or_tuple", "salt": "int_or_tuple",
    "axes": "int_or_tuple", "source": "int_or_tuple", "destination": "int_or_tuple",
    "repeats": "int_or_tuple", "shift": "int_or_tuple",
    "bin_boundaries": "float_list", "idf_weights": "float_list", "value_range": "float_list",
    "factor": "float_or_tuple", "height_factor": "float_or_tuple",
    "width_factor": "float_or_tuple", "x_factor": "float_or_tuple",
    "y_factor": "float_or_tuple", "brightness_factor": "float_or_tuple",
    "contrast_factor": "float_or_tuple", "saturation_factor": "float_or_tuple",
    "hue_factor": "float_or_tuple", "addition_factor": "float_or_tuple",
    "threshold_factor": "float_or_tuple", "mean": "float_or_tuple",
    "variance": "float_or_tuple",
    "tile_grid_size": "int_tuple",
    "layer": "layer", "backward_layer": "layer",
    "dtype": "dtype", "reverse_dtype": "dtype",
    "equation": "str", "bias_axes": "str", "encoding": "str", "subscripts": "str",
    "flash_attention": "bool", "sparse": "bool", "ragged": "bool",
    "vocabulary": "any", "renorm_clipping": "any", "quantization_config": "any",
}  # fmt: skip
LENGTHS = {"value_range": 2, "tile_grid_size": 2}
# Layers whose `axis` may be a list of axes.
MULTI_AXIS = {"LayerNormalization", "Normalization", "UnitNormalization", "RMSNormalization",
              "Softmax"}  # fmt: skip

# Per-layer overrides of any field of a parameter.
PARAM_OVERRIDES = {
    ("Rescaling", "scale"): {"kind": "float"},
    ("Rescaling", "offset"): {"kind": "float"},
    ("Dot", "axes"): {"length": 2},
    ("UpSampling1D", "size"): {"kind": "int", "length": None},
    ("StringLookup", "mask_token"): {"kind": "str"},
    ("StringLookup", "oov_token"): {"kind": "str"},
    ("IntegerLookup", "mask_token"): {"kind": "int"},
    ("IntegerLookup", "oov_token"): {"kind": "int"},
    ("Hashing", "mask_value"): {"kind": "any"},
    ("EinsumDense", "output_shape"): {"kind": "shape"},
    ("MultiHeadAttention", "output_shape"): {"kind": "shape"},
    ("MultiHeadAttention", "attention_axes"): {"kind": "int_or_tuple"},
    ("Discretization", "epsilon"): {"max": 1},
    ("MelSpectrogram", "window"): {"kind": "choice", "choices": ["hann", "hamming"]},
    ("STFTSpectrogram", "window"): {
        "kind": "choice",
        "choices": ["hann", "hamming", None],
        "nullable": True,
    },
}

DATA_FORMATS = ["channels_last", "channels_first"]
LOOKUP_MODES = ["int", "one_hot", "multi_hot", "count", "tf_idf"]
CHOICES = {  # (layer or "*", parameter) -> choices for string parameters
    ("*", "data_format"): [*DATA_FORMATS, None],
    ("*", "merge_mode"): ["sum", "mul", "concat", "ave", None],
    ("*", "score_mode"): ["dot", "concat"],
    ("*", "use_cudnn"): ["auto", True, False],
    ("*", "vocabulary_dtype"): ["int64", "int32"],
    ("*", "oov_method"): ["floormod", "farmhash"],
    ("*", "standardize"): ["lower_and_strip_punctuation", "lower", "strip_punctuation", None],
    ("*", "split"): ["whitespace", "character", None],
    ("*", "scaling"): ["density", "spectrum", None],
    ("*", "interpolation"): ["bilinear", "nearest"],
    ("*", "fill_mode"): ["reflect", "wrap", "constant", "nearest"],
    ("*", "padding"): ["valid", "same"],
    ("Conv1D", "padding"): ["valid", "same", "causal"],
    ("UpSampling2D", "interpolation"): ["nearest", "bilinear", "bicubic", "lanczos3",
                                        "lanczos5"],
    ("Resizing", "interpolation"): ["bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"],
    ("Resizing", "fill_mode"): ["constant"],
    ("RandomFlip", "mode"): ["horizontal", "vertical", "horizontal_and_vertical"],
    ("STFTSpectrogram", "mode"): ["log", "magnitude", "psd", "real", "imag", "angle", "stft"],
    ("TextVectorization", "output_mode"): ["int", "multi_hot", "count", "tf_idf"],
    ("StringLookup", "output_mode"): LOOKUP_MODES,
    ("IntegerLookup", "output_mode"): LOOKUP_MODES,
    ("CategoryEncoding", "output_mode"): ["one_hot", "multi_hot", "count"],
    ("Hashing", "output_mode"): ["int", "one_hot", "multi_hot", "count"],
    ("HashedCrossing", "output_mode"): ["int", "one_hot"],
    ("Discretization", "output_mode"): ["int", "one_hot", "multi_hot", "count"],
}  # fmt: skip

# Layers whose single `inputs` argument is a list of tensors (besides keras' Merge layers).
VARIADIC_LAYERS = {"Attention", "AdditiveAttention", "HashedCrossing", "CustomScaleLayer"}

# Layer classes that keras.applications defines for its own models (not in keras.layers):
# without them ConvNeXt and InceptionResNetV2 could not be imported.
APPLICATION_LAYERS = {
    "LayerScale": ("keras.src.applications.convnext", {"init_values": 1e-6, "projection_dim": 1}),
    "CustomScaleLayer": ("keras.src.applications.inception_resnet_v2", {"scale": 1.0}),
}
# Call arguments that take a list of tensors.
VARIADIC_ARGS = {"initial_state"}

ATTENTION_SCORES = {
    "param": "return_attention_scores",
    "value": True,
    "call_param": True,
    "outputs": ["output", "attention_scores"],
}
OUTPUT_RULES = {
    "LSTM": [{"param": "return_state", "value": True,
              "outputs": ["output", "state_h", "state_c"]}],
    "GRU": [{"param": "return_state", "value": True, "outputs": ["output", "state"]}],
    "SimpleRNN": [{"param": "return_state", "value": True, "outputs": ["output", "state"]}],
    "MultiHeadAttention": [ATTENTION_SCORES],
    "GroupQueryAttention": [ATTENTION_SCORES],
    "Attention": [ATTENTION_SCORES],
    "AdditiveAttention": [ATTENTION_SCORES],
}  # fmt: skip
for _dim in "123":
    OUTPUT_RULES[f"ConvLSTM{_dim}D"] = OUTPUT_RULES["LSTM"]

CATEGORIES = {  # keras.src.layers.<package> -> category
    "activations": "Activation", "attention": "Attention", "convolutional": "Convolution",
    "core": "Core", "merging": "Merging", "normalization": "Normalization",
    "pooling": "Pooling", "preprocessing": "Preprocessing", "regularization": "Regularization",
    "reshaping": "Reshaping", "rnn": "Recurrent",
}  # fmt: skip

DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "bool", "string"]  # fmt: skip
# Names keras.<kind>.get() accepts that make no sense as a general choice.
UNLISTED_CHOICES = {"initializer": {"stft"}}

# keras.ops: the modules whose Operation classes become "ops.<Class>" entries.
OP_MODULES = ("keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.math",
              "keras.src.ops.core")  # fmt: skip
# Functions that take callables or produce a number of outputs only known from the arguments.
EXCLUDED_OPS = {
    "associative_scan", "cond", "custom_gradient", "fori_loop", "map", "scan", "switch",
    "vectorized_map", "while_loop", "split", "array_split", "hsplit", "vsplit", "dsplit",
    "unstack", "meshgrid", "nonzero", "unique", "convert_to_numpy", "is_tensor", "dtype",
    "shape", "ndim", "size",
}  # fmt: skip
# How to call the functions that need more than a (None, 4) float tensor t.x per argument:
# t.i is an int32 (None, 4) tensor, t.x4 a (None, 8, 8, 4) image batch, t.v a (4,) vector.
OP_CALLS = {
    "concatenate": lambda t: ([t.x, t.x],),
    "stack": lambda t: ([t.x, t.x],),
    "hstack": lambda t: ([t.x, t.x],),
    "vstack": lambda t: ([t.x, t.x],),
    "dstack": lambda t: ([t.x, t.x],),
    "einsum": lambda t: ("ij,jk->ik", t.x, t.x),
    "expand_dims": lambda t: (t.x, 1),
    "reshape": lambda t: (t.x, (-1, 2)),
    "broadcast_to": lambda t: (t.x, (2, 4)),
    "cast": lambda t: (t.x, "int32"),
    "saturate_cast": lambda t: (t.x, "int32"),
    "clip": lambda t: (t.x, 0.0, 1.0),
    "tile": lambda t: (t.x, (1, 2)),
    "repeat": lambda t: (t.x, 2),
    "swapaxes": lambda t: (t.x, 0, 1),
    "moveaxis": lambda t: (t.x, 0, 1),
    "pad": lambda t: (t.x, ((0, 0), (1, 1))),
    "take_along_axis": lambda t: (t.x, t.i, 1),
    "take": lambda t: (t.x, t.i),
    "one_hot": lambda t: (t.i, 3),
    "multi_hot": lambda t: (t.i, 3),
    "top_k": lambda t: (t.x, 2),
    "moments": lambda t: (t.x, [1]),
    "argpartition": lambda t: (t.x, 1),
    "where": lambda t: (t.x, t.x, t.x),
    "max_pool": lambda t: (t.x4, 2),
    "average_pool": lambda t: (t.x4, 2),
    "adaptive_max_pool": lambda t: (t.x4, (2, 2)),
    "adaptive_average_pool": lambda t: (t.x4, (2, 2)),
    "depth_to_space": lambda t: (t.x4, 2),
    "space_to_depth": lambda t: (t.x4, 2),
    "batch_normalization": lambda t: (t.x, t.v, t.v, -1),
    "slice": lambda t: (t.x, (0, 0), (1, 2)),
    "digitize": lambda t: (t.x, t.v),
}
# Names of the outputs of operations with several.
OP_OUTPUTS = {
    "TopK": ["values", "indices"],
    "Moments": ["mean", "variance"],
    "Slogdet": ["sign", "logabsdet"],
    "Histogram": ["counts", "bin_edges"],
}
# Call arguments of ops that take a list of tensors.
VARIADIC_OP_ARGS = {("Stack", "x"), ("Concatenate", "xs"), ("Hstack", "xs"), ("Vstack", "xs"),
                    ("Dstack", "xs")}  # fmt: skip

MODEL_ENTRY = {
    "module": "keras",
    "class_name": "Model",
    "category": "Models",
    "description": "A nested network used as one layer; its ports are its inputs and outputs.",
    "inputs": [],
    "outputs": [],
    "dynamic_ports": True,
    "params": [],
    "call_params": [],
    "defaults": {},
    "output_rules": [],
    "common": False,
}


# --------------------------------------------------------------------------- helpers


def jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and numpy scalars as numbers; TypeError if impossible."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("non-finite float")
        return value
    raise TypeError(f"{type(value).__name__} is not JSON")


def clean_text(text: str) -> str:
    """One line of plain text: no markdown backticks or links, whitespace collapsed."""
    text = re.sub(r"\[([^\]]*)\]\(\s*[^)]*\)", r"\1", text)
    text = text.replace("`", "")
    return " ".join(text.split())


def dedent(doc: str) -> list[str]:
    """Docstring lines without their margin. Unlike inspect.cleandoc, lines at column 0 (code
    examples pasted unindented, as in several Keras docstrings) do not set the margin."""
    lines = doc.expandtabs().splitlines()
    indents = [len(t) - len(t.lstrip()) for t in lines[1:] if t.strip()]
    margin = min((i for i in indents if i > 0), default=0)
    body = [t[margin:] if t[:margin].strip() == "" else t.lstrip() for t in lines[1:]]
    return [lines[0].strip(), *body] if lines else []


_ABBREVIATIONS = ("e.g", "i.e", "a.k.a", "etc", "vs", "al", "approx", "resp")


def first_sentence(doc: str | None) -> str:
    if not doc:
        return ""
    paragraph = "\n".join(dedent(doc)).strip().split("\n\n")[0]
    text = clean_text(paragraph)
    for m in re.finditer(r"[.!?](?=\s|$)", text):
        head = text[: m.start()]
        if not head.lower().endswith(_ABBREVIATIONS):
            return re.sub(r"\.+$", ".", text[: m.end()])
    return text


def doc_sections(doc: str | None) -> dict[str, dict[str, str]]:
    """``{"args": {name: text}, "call": {name: text}}`` from a Google-style docstring."""
    out: dict[str, dict[str, str]] = {"args": {}, "call": {}}
    if not doc:
        return out
    section = None
    base = None
    current = None
    for line in dedent(doc):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 0 and stripped.endswith(":") and re.fullmatch(r"[\w ]+:", stripped):
            title = stripped[:-1].lower()
            section = {
                "args": "args",
                "arguments": "args",
                "call arguments": "call",
                "call args": "call",
            }.get(title)
            base = current = None
            continue
        if section is None or not stripped:
            continue
        if indent == 0:
            section = None
            continue
        m = re.match(r"\*{0,2}(\w+)\s*(\([^)]*\))?:(\s|$)(.*)", stripped)
        if m and (base is None or indent == base):
            base = indent
            current = m.group(1)
            out[section][current] = m.group(4)
        elif current is not None and indent > (base or 0):
            out[section][current] += " " + stripped
    return {k: {n: clean_text(t) for n, t in v.items()} for k, v in out.items()}


def spatial_rank(class_name: str) -> int | None:
    m = re.search(r"([123])D", class_name)
    return int(m.group(1)) if m else None


def category_of(cls: type, class_name: str, params: list[dict] | None = None) -> str:
    if class_name == "InputLayer":
        return "Inputs"
    if any(p["kind"] == "layer" for p in params or ()):
        # Bidirectional, TimeDistributed, SpectralNormalization: a layer around a layer.
        return "Wrappers"
    parts = cls.__module__.split(".")
    package = parts[3] if parts[:3] == ["keras", "src", "layers"] and len(parts) > 3 else ""
    if "image_preprocessing" in parts:
        # Layers with a seed transform at random: data augmentation.
        has_seed = "seed" in inspect.signature(cls.__init__).parameters
        return "Augmentation" if has_seed else "Image Preprocessing"
    return CATEGORIES.get(package, "Other")


def kind_of_default(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)) and default:
        if any(isinstance(v, (tuple, list)) for v in default):
            return "any"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return "int_tuple"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
            return "float_list"
    return "any"


# --------------------------------------------------------------------------- parameters


def param_spec(
    owner: str,
    name: str,
    default: Any,
    required: bool,
    doc: str,
    catalog_choices: dict[str, list[Any]],
) -> dict[str, Any]:
    """The catalog description of one constructor parameter of ``owner``."""
    try:
        default = jsonable(default)
        json_ok = True
    except TypeError:
        default, json_ok = None, False
    spec: dict[str, Any] = {
        "name": name, "kind": "any", "default": default, "required": required,
        "nullable": default is None and not required, "min": None, "max": None,
        "choices": None, "length": None, "doc": doc or GENERIC_DOCS.get(name, ""),
    }  # fmt: skip
    rank = spatial_rank(owner)
    suffix_kinds = (
        ("activation", "activation"),
        ("_initializer", "initializer"),
        ("_regularizer", "regularizer"),
        ("_constraint", "constraint"),
    )
    kind = next((k for s, k in suffix_kinds if name.endswith(s)), None)
    if not json_ok:
        kind = "any"
    elif kind is None and name in NAME_KINDS:
        kind = NAME_KINDS[name]
    elif kind is None and name in INT_MIN1 | INT_MIN0 | INTS:
        kind = "int"
        spec["min"] = 1 if name in INT_MIN1 else 0 if name in INT_MIN0 else None
    elif kind is None and name in FLOAT_UNIT | FLOAT_MIN0 | FLOATS:
        kind = "float"
        spec["min"] = 0 if name in FLOAT_UNIT | FLOAT_MIN0 else None
        spec["max"] = 1 if name in FLOAT_UNIT else None
    elif kind is None and name == "axis":
        kind = "int_or_tuple" if owner in MULTI_AXIS or default is None else "int"
    elif kind is None and (name in SPATIAL or (name == "padding" and not isinstance(default, str))):
        nested = isinstance(default, list) and any(isinstance(v, list) for v in default)
        kind = "any" if nested else "int_or_tuple"
        if not nested:
            spec["min"] = 0 if name in ("padding", "cropping", "output_padding") else 1
            if rank:
                pairs = name in ("padding", "cropping")
                spec["length"] = 2 if pairs and rank == 1 else rank
    elif kind is None:
        kind = kind_of_default(default)
        if kind == "int_tuple":
            spec["length"] = len(default)
    spec["kind"] = kind
    if name in LENGTHS:
        spec["length"] = LENGTHS[name]
    choices = CHOICES.get((owner, name)) or CHOICES.get(("*", name))
    plain = default is None or isinstance(default, str)
    if choices is not None and ((kind in ("str", "any") and plain) or name == "use_cudnn"):
        spec["kind"] = "choice"
        spec["choices"] = list(choices)
        spec["nullable"] = None in choices
    if kind in ("initializer", "regularizer", "constraint") and isinstance(default, str):
        spec["default"] = canonical_name(kind, default, catalog_choices)
    spec.update(PARAM_OVERRIDES.get((owner, name), {}))
    return spec


def canonical_name(kind: str, name: str, catalog_choices: dict[str, list[Any]]) -> str:
    """The listed choice for an equivalent identifier (PReLU's "Zeros" -> "zeros")."""
    import keras

    if name in catalog_choices[kind]:
        return name
    module = getattr(keras, kind + "s")
    target = module.get(name)
    for choice in catalog_choices[kind]:
        obj = module.get(choice)
        if type(obj) is type(target) and obj.get_config() == target.get_config():
            return choice
    return name


def signature_params(fn: Any) -> list[inspect.Parameter]:
    params = list(inspect.signature(fn).parameters.values())
    return [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def call_spec(fn: Any, call_docs: dict[str, str], variadic_all: bool):
    """(ports, call_params) from a ``call`` signature."""
    ports, call_params = [], []
    for p in inspect.signature(fn).parameters.values():
        if p.name in SKIP_CALL_ARGS or p.kind == p.VAR_KEYWORD:
            continue
        if p.kind == p.VAR_POSITIONAL:
            ports.append({"name": p.name, "variadic": True, "optional": False})
            continue
        has_default = p.default is not p.empty
        if has_default and isinstance(p.default, (bool, int, float, str)):
            kind = kind_of_default(p.default)
            call_params.append(
                {
                    "name": p.name,
                    "kind": kind,
                    "default": p.default,
                    "doc": call_docs.get(p.name, ""),
                }
            )
            continue
        ports.append(
            {
                "name": p.name,
                "variadic": variadic_all or p.name in VARIADIC_ARGS,
                "optional": has_default,
            }
        )
    return ports, call_params


# --------------------------------------------------------------------------- layers


def public_layer_classes() -> dict[str, list[str]]:
    """``{canonical name: [all public names]}`` for the public classes in keras.layers."""
    import keras
    from keras.src import api_export

    names: dict[type, list[str]] = {}
    for n in dir(keras.layers):
        obj = getattr(keras.layers, n)
        if isinstance(obj, type):
            names.setdefault(obj, []).append(n)
    out = {}
    for cls, public in names.items():
        # The name Keras writes into a saved config (GroupedQueryAttention saves as
        # "GroupQueryAttention"); __name__ for the rest.
        api = api_export.get_name_from_symbol(cls) or ""
        canonical = api.rsplit(".", 1)[-1] if api.startswith("keras.layers.") else cls.__name__
        out[canonical] = sorted(public)
    return out


def example_instance(class_name: str, cls: type):
    import keras

    kwargs = {}
    for key, value in REQUIRED_EXAMPLES.get(class_name, {}).items():
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict):
            value = getattr(keras.layers, value[0])(**value[1])
        kwargs[key] = value
    return cls(**kwargs)


def layer_entry(class_name: str, cls: type, aliases: list[str], choices: dict) -> dict:
    import keras
    from keras.src.layers.merging.base_merge import Merge

    doc = (
        getattr(keras, DOC_SOURCES[class_name]).__doc__
        if class_name in DOC_SOURCES
        else cls.__doc__
    )
    docs = doc_sections(doc)
    params = []
    for p in signature_params(cls.__init__):
        if p.name in SKIP_PARAMS:
            continue
        required = p.default is p.empty or (class_name, p.name) in ALSO_REQUIRED
        default = None if p.default is p.empty else p.default
        params.append(
            param_spec(class_name, p.name, default, required, docs["args"].get(p.name, ""), choices)
        )
    if not any(p["name"] == "dtype" for p in params):  # a base Layer argument
        params.append(param_spec(class_name, "dtype", None, False, "", choices))

    variadic = issubclass(cls, Merge) or class_name in VARIADIC_LAYERS
    ports, call_params = call_spec(cls.call, docs["call"], variadic)
    if class_name == "InputLayer":
        ports = []

    required = {p["name"] for p in params if p["required"]}
    defaults = None
    if class_name not in SIGNATURE_DEFAULTS:
        try:
            config = example_instance(class_name, cls).get_config()
            defaults = {k: v for k, v in config.items() if k != "name" and k not in required}
            defaults.update(DERIVED_DEFAULTS.get(class_name, {}))
            defaults = jsonable(defaults)
        except Exception as exc:  # noqa: BLE001 - report it, fall back to the signature
            print(f"  {class_name}: no default instance ({exc})", file=sys.stderr)
            defaults = None
    if defaults is None:
        defaults = {p["name"]: p["default"] for p in params if not p["required"]}

    entry = {
        "module": "keras.layers",
        "class_name": class_name,
        "category": category_of(cls, class_name, params),
        "description": DESCRIPTIONS.get(class_name) or first_sentence(doc),
        "inputs": ports,
        "outputs": ["output"],
        "output_rules": OUTPUT_RULES.get(class_name, []),
        "params": params,
        "call_params": call_params,
        "defaults": defaults,
        "common": class_name in COMMON,
        "starter": {
            k: v for k, v in starter_params(class_name).items() if k in required
        },
    }
    others = [a for a in aliases if a != class_name]
    if others:
        entry["aliases"] = others
    return entry


# --------------------------------------------------------------------------- ops


def op_call(fn_name: str, fn: Any):
    """The symbolic result of calling keras.ops.<fn_name> on dummy tensors, or None."""
    from types import SimpleNamespace

    import keras

    t = SimpleNamespace(
        x=keras.KerasTensor((None, 4)),
        i=keras.KerasTensor((None, 4), dtype="int32"),
        x4=keras.KerasTensor((None, 8, 8, 4)),
        v=keras.KerasTensor((4,)),
    )
    if fn_name in OP_CALLS:
        args = OP_CALLS[fn_name](t)
    else:
        args = (t.x,) * sum(1 for p in signature_params(fn) if p.default is p.empty)
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - an op we cannot call symbolically is left out
        return None


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def op_entries(choices: dict) -> dict[str, dict]:
    """``{"ops.<Class>": entry}`` for the keras.ops functions we can call symbolically."""
    import keras

    found: dict[type, tuple[Any, list[str]]] = {}  # class -> (an instance, function names)
    for fn_name in sorted(n for n in dir(keras.ops) if not n.startswith("_")):
        fn = getattr(keras.ops, fn_name)
        if fn_name in EXCLUDED_OPS or not callable(fn) or isinstance(fn, type):
            continue
        out = op_call(fn_name, fn)
        several = isinstance(out, (list, tuple))
        first = out[0] if several and out else out
        op = getattr(getattr(first, "_keras_history", None), "operation", None)
        if op is None or type(op).__module__ not in OP_MODULES:
            continue
        if several and len(out) > 1 and type(op).__name__ not in OP_OUTPUTS:
            continue
        found.setdefault(type(op), (op, []))[1].append(fn_name)
    return {
        f"ops.{cls.__name__}": op_entry(cls, op, fns, choices) for cls, (op, fns) in found.items()
    }


def op_entry(cls: type, op: Any, functions: list[str], choices: dict) -> dict:
    import keras

    key = f"ops.{cls.__name__}"
    # The function whose name matches the class best (absolute over abs).
    main = min(functions, key=lambda f: (snake(cls.__name__) != f, len(f), f))
    fn = getattr(keras.ops, main)
    docs = doc_sections(fn.__doc__)
    params = []
    for p in signature_params(cls.__init__):
        if p.name in SKIP_PARAMS:
            continue
        required = p.default is p.empty or (key, p.name) in ALSO_REQUIRED
        default = None if p.default is p.empty else p.default
        params.append(
            param_spec(key, p.name, default, required, docs["args"].get(p.name, ""), choices)
        )
    ports = []
    for p in inspect.signature(cls.call).parameters.values():
        if p.name == "self" or p.kind == p.VAR_KEYWORD:
            continue
        star = p.kind == p.VAR_POSITIONAL
        ports.append(
            {
                "name": p.name,
                "variadic": star or (cls.__name__, p.name) in VARIADIC_OP_ARGS,
                "optional": p.default is not p.empty and not star,
            }
        )
    # get_config() of the class made with only the required arguments (taken from the
    # instance the function call made); from the signature if that is not possible.
    required = {p["name"] for p in params if p["required"]}
    try:
        given = {k: v for k, v in op.get_config().items() if k in required}
        config = cls(**given).get_config()
        defaults = jsonable({k: v for k, v in config.items() if k != "name" and k not in required})
    except Exception:  # noqa: BLE001
        defaults = {p["name"]: p["default"] for p in params if not p["required"]}
    entry = {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "function": main,
        "category": "Operations",
        "description": first_sentence(fn.__doc__) or first_sentence(cls.__doc__),
        "inputs": ports,
        "outputs": OP_OUTPUTS.get(cls.__name__, ["output"]),
        "output_rules": [],
        "params": params,
        "call_params": [],
        "defaults": defaults,
        "common": False,
    }
    if len(functions) > 1:
        entry["aliases"] = sorted(f for f in functions if f != main)
    return entry


# --------------------------------------------------------------------------- choices


def catalog_choices() -> tuple[dict[str, list[Any]], dict[str, dict[str, str]]]:
    """The top-level ``choices`` and ``aliases``."""
    import keras

    choices: dict[str, list[Any]] = {}
    aliases: dict[str, dict[str, str]] = {}
    for kind in ("activation", "initializer", "regularizer", "constraint"):
        module = getattr(keras, kind + "s")
        names = []
        for n in sorted(dir(module)):
            if n.startswith("_") or n != n.lower() or n in ("get", "serialize", "deserialize"):
                continue
            if n in UNLISTED_CHOICES.get(kind, ()):
                continue
            try:
                obj = module.get(n)
            except Exception:  # noqa: BLE001 - e.g. "constant" needs a value
                continue
            names.append(n)
            if kind == "activation":
                continue
            try:
                default_config = type(obj)().get_config()
            except Exception:  # noqa: BLE001
                continue
            if obj.get_config() == default_config:
                aliases.setdefault(kind, {}).setdefault(type(obj).__name__, n)
        choices[kind] = names
    choices["padding"] = ["valid", "same", "causal"]
    choices["data_format"] = list(DATA_FORMATS)
    choices["dtype"] = list(DTYPES)
    return choices, aliases


# --------------------------------------------------------------------------- pretrained
# Backbone and PreprocessInput (category "Pretrained"): keras.applications networks as nodes,
# made by studio/engine/applications.py (docs/pretrained.md). Kept apart from the keras.layers
# entries above: they are written here by hand rather than read from a Keras class.

# The catalog test makes every entry from its defaults; a Backbone's default weights are
# "imagenet", which would download, so it is made with weights=None there.
REQUIRED_EXAMPLES["Backbone"] = {"weights": None}


def _pretrained_param(name, kind, default, doc, choices=None, nullable=False, minimum=None):
    return {
        "name": name, "kind": kind, "default": default, "required": False,
        "nullable": nullable, "min": minimum, "max": None,
        "choices": choices, "length": None, "doc": doc,
    }  # fmt: skip


def pretrained_entries() -> dict[str, dict]:
    """The two node types of the "Pretrained" category."""
    sys.path.insert(0, str(ROOT))
    from studio.engine.applications import DEFAULTS, MODELS, PreprocessInput, preprocess_mode

    models = list(MODELS)
    port = [{"name": "inputs", "variadic": False, "optional": False}]
    p = _pretrained_param
    backbone_params = [
        p("model", "choice", "MobileNetV2", "The keras.applications network.", models),
        p("weights", "choice", "imagenet",
          "'imagenet' for weights pretrained on ImageNet (downloaded once, cached in "
          "~/.keras/models), or None for random initialisation.", ["imagenet", None], True),
        p("include_top", "bool", False,
          "Whether to keep the network's own fully-connected ImageNet classifier."),
        p("pooling", "choice", "avg",
          "Without the top: None keeps the last feature map (4-D), 'avg' or 'max' pools it "
          "to one vector per image.", [None, "avg", "max"], True),
        p("input_shape", "shape", None,
          "The image shape without the batch axis, like [224, 224, 3]; None takes any "
          "size (without the top) or the network's default.", nullable=True),
        p("classes", "int", 1000,
          "Number of classes of the top classifier (only with include_top and weights None).",
          minimum=1),
        p("classifier_activation", "activation", "softmax",
          "Activation of the top classifier (only with include_top)."),
        p("trainable", "bool", False,
          "False freezes the whole backbone (transfer learning: train only the new head); "
          "true trains it, all of it or from fine_tune_from onwards."),
        p("fine_tune_from", "str", None,
          "With trainable: the layer (name, or index) from which layers train; the layers "
          "before it stay frozen. Empty: every layer trains.", nullable=True),
        p("freeze_batch_norm", "bool", True,
          "With fine_tune_from: keep BatchNormalization layers frozen (inference mode), as "
          "Keras recommends when fine-tuning on a small dataset."),
    ]  # fmt: skip
    backbone = {
        "module": "studio.engine.applications",
        "class_name": "Backbone",
        "category": "Pretrained",
        "description": "A keras.applications network (MobileNetV2, ResNet50, EfficientNetB0, "
        "...) as one node, with ImageNet weights, frozen or fine-tuned from a layer.",
        "inputs": port,
        "outputs": ["output"],
        "output_rules": [],
        "params": backbone_params,
        "call_params": [],
        "defaults": dict(DEFAULTS),
        "common": False,
        "starter": {"input_shape": [224, 224, 3]},
    }
    preprocess = {
        "module": "studio.engine.applications",
        "class_name": "PreprocessInput",
        "category": "Pretrained",
        "description": "The preprocess_input of a keras.applications network: scales 0-255 "
        "images the way its ImageNet weights expect.",
        "inputs": port,
        "outputs": ["output"],
        "output_rules": [],
        "params": [
            p("model", "choice", "MobileNetV2", "The network whose preprocessing to apply.",
              models),
            p("data_format", "choice", None,
              "channels_last or channels_first; None for the global setting.",
              [None, *DATA_FORMATS], True),
        ],  # fmt: skip
        "call_params": [],
        "defaults": jsonable(
            {k: v for k, v in PreprocessInput().get_config().items() if k != "name"}
        ),
        "common": False,
        "starter": {},
        # preprocess_input per model: "tf", "torch", "caffe" or "none" (for the exported script)
        "modes": {m: preprocess_mode(m) for m in models},
    }
    return {"Backbone": backbone, "PreprocessInput": preprocess}


# --------------------------------------------------------------------------- catalog


@contextmanager
def keras_factory_settings():
    """Keras' stock global settings while the catalog is built, whatever ~/.keras/keras.json
    or an earlier caller (a test that turned on mixed precision) chose."""
    import keras

    saved = (keras.config.image_data_format(), keras.config.floatx(), keras.config.dtype_policy())
    keras.config.set_image_data_format("channels_last")
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_image_data_format(saved[0])
        keras.config.set_floatx(saved[1])
        keras.config.set_dtype_policy(saved[2])


def build_catalog() -> dict[str, Any]:
    """The whole catalog, as a JSON-ready dict (deterministic for one Keras version)."""
    import keras

    with keras_factory_settings():
        choices, aliases = catalog_choices()
        layers: dict[str, dict] = {}
        for canonical, names in sorted(public_layer_classes().items()):
            if canonical in EXCLUDED or set(names) & set(EXCLUDED):
                continue
            cls = getattr(keras.layers, names[0])
            layers[canonical] = layer_entry(canonical, cls, names, choices)
        for class_name, (module, example) in sorted(APPLICATION_LAYERS.items()):
            cls = getattr(importlib.import_module(module), class_name)
            REQUIRED_EXAMPLES.setdefault(class_name, example)
            entry = layer_entry(class_name, cls, [class_name], choices)
            entry["module"] = module
            entry["category"] = "Applications"
            layers[class_name] = entry
        layers["Model"] = dict(MODEL_ENTRY)
        layers.update(pretrained_entries())  # Backbone, PreprocessInput
        layers.update(op_entries(choices))
    return {
        "format": "studio.catalog",
        "version": 1,
        "keras_version": keras.__version__,
        "choices": choices,
        "aliases": aliases,
        "layers": layers,
    }


def entry_docstring(type_: str, entry: dict[str, Any]) -> str:
    """The Keras docstring behind one catalog entry, margin removed ("" if none)."""
    import keras

    if type_ in ("Backbone", "PreprocessInput"):
        return ""  # Studio's own nodes: their catalog description is their documentation
    if type_.startswith("ops."):
        doc = getattr(keras.ops, entry["function"]).__doc__ or ""
    elif type_ in DOC_SOURCES:
        doc = getattr(keras, DOC_SOURCES[type_]).__doc__ or ""
    else:
        module = importlib.import_module(entry["module"])
        doc = getattr(module, entry["class_name"]).__doc__ or ""
    return "\n".join(dedent(doc)).strip() + "\n" if doc.strip() else ""


def build_layer_docs(catalog: dict[str, Any]) -> dict[str, Any]:
    """``{"format": "studio.layer_docs", "keras_version", "docs": {type: docstring}}``."""
    docs = {}
    for type_, entry in sorted(catalog["layers"].items()):
        text = entry_docstring(type_, entry)
        if text:
            docs[type_] = text
    return {
        "format": "studio.layer_docs",
        "version": 1,
        "keras_version": catalog["keras_version"],
        "docs": docs,
    }


def dumps(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if resources/catalog.json is not up to date"
    )
    parser.add_argument("--output", type=Path, default=CATALOG_PATH)
    parser.add_argument("--docs-output", type=Path, default=DOCS_PATH)
    args = parser.parse_args(argv)
    try:  # import Keras the way Studio does, without TensorFlow's start-up chatter
        sys.path.insert(0, str(ROOT))
        from studio.engine import load_keras

        load_keras()
    except ImportError:
        pass
    catalog = build_catalog()
    text = dumps(catalog)
    docs_text = dumps(build_layer_docs(catalog))
    if args.check:
        stale = False
        for path, wanted in ((args.output, text), (args.docs_output, docs_text)):
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != wanted:
                print(f"{path} is out of date; run `make catalog`.", file=sys.stderr)
                stale = True
            else:
                print(f"{path} is up to date.")
        return 1 if stale else 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    args.docs_output.write_text(docs_text, encoding="utf-8")
    print(f"Wrote {args.docs_output}: {len(json.loads(docs_text)['docs'])} docstrings.")
    n_ops = sum(1 for k in json.loads(text)["layers"] if k.startswith("ops."))
    n_layers = len(json.loads(text)["layers"]) - n_ops
    print(f"Wrote {args.output}: {n_layers} layer entries, {n_ops} ops.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
