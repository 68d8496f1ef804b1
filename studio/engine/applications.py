"""Pretrained networks as nodes: ``keras.applications`` backbones and their preprocessing.

Two catalog entries live here (category "Pretrained"), made like every other node with
``cls.from_config(defaults | params | {"name": node.name})``:

* :class:`Backbone` is not a layer class but a factory: ``from_config`` returns the
  ``keras.Model`` that ``keras.applications.<model>(...)`` builds, named after the node, with
  its layers frozen (``trainable`` false), all trainable, or trainable from a chosen layer
  onwards (``fine_tune_from``). Inside the built model it is an ordinary nested Functional
  model, so saving, loading and exporting need nothing of Studio.
* :class:`PreprocessInput` is a real layer (registered as ``studio>PreprocessInput``): the
  maths of ``keras.applications.<family>.preprocess_input`` written with ``keras.ops``.

ImageNet weights come through Keras' own cache (``~/.keras/models``). A download reports its
progress through the callback set by :func:`download_progress` (the training run's progress
line), and no network gives an :class:`EngineError` that says so. Shape inference never
downloads: :func:`backbone_for_shapes` builds with ``weights=None`` (same shapes) and keeps
the last few models by configuration.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from studio.core.graph import Graph, Node
from studio.engine import EngineError, load_keras

keras = load_keras()
ops = keras.ops

Progress = Callable[[float, str], None]

# Every application constructor in keras.applications, with the public module whose
# preprocess_input belongs to it (tools/generate_catalog.py lists the same names).
MODELS: dict[str, str] = {
    name: getattr(keras.applications, name).__module__.rsplit(".", 1)[-1]
    for name in sorted(dir(keras.applications))
    if name[:1].isupper() and callable(getattr(keras.applications, name))
}

# preprocess_input per family: "tf" (x/127.5 - 1), "torch" (x/255, ImageNet mean and std),
# "caffe" (RGB -> BGR, ImageNet mean subtracted, 0..255 scale) or "none" (the model
# preprocesses itself: EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3).
FAMILY_MODES: dict[str, str] = {
    "convnext": "none",
    "densenet": "torch",
    "efficientnet": "none",
    "efficientnet_v2": "none",
    "inception_resnet_v2": "tf",
    "inception_v3": "tf",
    "mobilenet": "tf",
    "mobilenet_v2": "tf",
    "mobilenet_v3": "none",
    "nasnet": "tf",
    "resnet": "caffe",
    "resnet50": "caffe",
    "resnet_v2": "tf",
    "vgg16": "caffe",
    "vgg19": "caffe",
    "xception": "tf",
}
CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

DEFAULTS: dict[str, Any] = {
    "model": "MobileNetV2",
    "weights": "imagenet",
    "include_top": False,
    "pooling": "avg",
    "input_shape": None,
    "classes": 1000,
    "classifier_activation": "softmax",
    "trainable": False,
    "fine_tune_from": None,
    "freeze_batch_norm": True,
}
_CONSTRUCTOR_KEYS = ("weights", "include_top", "pooling", "input_shape", "classes",
                     "classifier_activation")  # fmt: skip


def family(model: str) -> str:
    """The ``keras.applications`` module of ``model`` (``"mobilenet_v2"``)."""
    if model not in MODELS:
        raise EngineError(
            f"There is no keras.applications model '{model}'. Choose one of: {', '.join(MODELS)}."
        )
    return MODELS[model]


def preprocess_mode(model: str) -> str:
    """``"tf"``, ``"torch"``, ``"caffe"`` or ``"none"`` for a model or family name."""
    fam = model if model in FAMILY_MODES else family(model)
    return FAMILY_MODES[fam]


# --------------------------------------------------------------------------- downloads

_progress = threading.local()


@contextlib.contextmanager
def download_progress(progress: Progress | None) -> Iterator[None]:
    """Report weight downloads made while building models in this block to ``progress``."""
    saved = getattr(_progress, "fn", None)
    _progress.fn = progress
    try:
        yield
    finally:
        _progress.fn = saved


def _cache_root() -> Path:
    from studio.engine.data import keras_cache_dir

    return keras_cache_dir().parent  # ~/.keras (or /tmp/.keras), as Keras chooses


def _offline_message(model: str) -> str:
    return (
        f"ImageNet weights for {model} could not be downloaded (no network?); they are "
        "cached in ~/.keras/models after the first download. Choose weights None to train "
        "from scratch."
    )


@contextlib.contextmanager
def _downloads_for(model: str) -> Iterator[None]:
    """Route keras.applications' ``file_utils.get_file`` through Studio's downloader, which
    reports progress, and turn a failed download into a plain :class:`EngineError`."""
    from keras.src.utils import file_utils

    from studio.engine.data import DataError, _download

    original = file_utils.get_file
    progress = getattr(_progress, "fn", None) or (lambda fraction, text: None)

    def get_file(fname=None, origin=None, *args, **kwargs):
        subdir = kwargs.get("cache_subdir", "datasets")
        if fname and origin and kwargs.get("cache_dir") is None and not kwargs.get("extract"):
            dest = _cache_root() / subdir / fname
            if not dest.is_file():
                try:
                    _download(origin, dest, f"the ImageNet weights for {model}", None, progress)
                except DataError:
                    raise EngineError(_offline_message(model)) from None
        return original(fname, origin, *args, **kwargs)

    file_utils.get_file = get_file
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:  # Keras' own downloader: "URL fetch failure on ..."
        if "fetch failure" in str(exc) or "Errno" in str(exc):
            raise EngineError(_offline_message(model)) from None
        raise
    finally:
        file_utils.get_file = original


# --------------------------------------------------------------------------- Backbone


def _as_shape(value: Any) -> tuple | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(
        v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0) for v in value
    ):
        raise EngineError(
            f"input_shape must be a list of positive sizes, like [224, 224, 3]; not {value!r}."
        )
    return tuple(value)


def application(config: dict[str, Any], weights: Any = "keep"):
    """``keras.applications.<model>(...)`` for a Backbone config, untouched trainability.

    ``weights="keep"`` uses the config's weights; shape inference passes ``None``.
    """
    cfg = DEFAULTS | {k: v for k, v in config.items() if k in DEFAULTS}
    model = cfg["model"]
    family(model)  # an unknown model name is refused here, in words
    kwargs = {k: cfg[k] for k in _CONSTRUCTOR_KEYS}
    kwargs["input_shape"] = _as_shape(kwargs["input_shape"])
    if cfg["weights"] not in ("imagenet", None):
        raise EngineError(f"weights must be 'imagenet' or None, not {cfg['weights']!r}.")
    if not kwargs["include_top"]:
        kwargs.pop("classes")
        kwargs.pop("classifier_activation")
    elif kwargs["weights"] == "imagenet" and kwargs["classes"] != 1000:
        raise EngineError(
            f"With ImageNet weights and include_top, {model} has 1000 classes; "
            "set classes to 1000, or include_top false and add your own head."
        )
    if weights != "keep":
        kwargs["weights"] = weights
    name = config.get("name") or model.lower()
    constructor = getattr(keras.applications, model)
    if kwargs["weights"] == "imagenet":
        with _downloads_for(model):
            return constructor(name=name, **kwargs)
    return constructor(name=name, **kwargs)


def fine_tune_index(backbone, fine_tune_from: Any) -> int:
    """The index in ``backbone.layers`` from which layers train (a name or an index)."""
    layers = backbone.layers
    if isinstance(fine_tune_from, bool):
        raise EngineError("fine_tune_from must be a layer name or a layer index.")
    if isinstance(fine_tune_from, int) or (
        isinstance(fine_tune_from, str) and fine_tune_from.lstrip("-").isdigit()
    ):
        index = int(fine_tune_from)
        if not -len(layers) <= index < len(layers):
            raise EngineError(
                f"fine_tune_from {index} is not a layer index of {backbone.name}: it has "
                f"{len(layers)} layers (0 to {len(layers) - 1})."
            )
        return index % len(layers)
    names = [layer.name for layer in layers]
    if fine_tune_from not in names:
        convs = [n for n in names if n.endswith(("_expand", "_conv", "conv1", "_project"))]
        examples = (convs or names)[-6:]
        raise EngineError(
            f"fine_tune_from: {backbone.name} has no layer '{fine_tune_from}'. Layers near "
            f"the top are: {', '.join(examples)} (expand the backbone to see them all)."
        )
    return names.index(fine_tune_from)


def set_trainable(backbone, trainable: bool, fine_tune_from: Any = None,
                  freeze_batch_norm: bool = True) -> None:  # fmt: skip
    """Freeze the backbone, unfreeze it, or unfreeze it from a layer onwards.

    Frozen layers run in inference mode (in Keras 3 a BatchNormalization layer with
    ``trainable`` false uses its moving statistics and never updates them). When fine-tuning
    from a layer, ``freeze_batch_norm`` keeps the BatchNormalization layers after the cut
    frozen too, as Keras' transfer-learning guide recommends, so the small new dataset does
    not overwrite the statistics learned on ImageNet.
    """
    if not trainable:
        backbone.trainable = False
        return
    backbone.trainable = True
    if fine_tune_from is None or fine_tune_from == "":
        return
    cut = fine_tune_index(backbone, fine_tune_from)
    for i, layer in enumerate(backbone.layers):
        if i < cut:
            layer.trainable = False
        elif freeze_batch_norm and isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def configured_backbone(config: dict[str, Any], weights: Any = "keep"):
    """:func:`application` with the config's trainability applied (:func:`set_trainable`)."""
    model = application(config, weights=weights)
    set_trainable(
        model,
        bool(config.get("trainable", DEFAULTS["trainable"])),
        config.get("fine_tune_from"),
        bool(config.get("freeze_batch_norm", True)),
    )
    return model


class Backbone:
    """A ``keras.applications`` network as one node (a factory, not a layer class)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return configured_backbone(config)


_SHAPE_MODELS: OrderedDict[str, Any] = OrderedDict()
_SHAPE_MODELS_KEPT = 4


def backbone_for_shapes(config: dict[str, Any]):
    """The backbone built with ``weights=None`` (same shapes, no download), cached by config.

    Call it inside the caller's scope (shape inference uses a StatelessScope, so no weights
    are allocated); the model is kept for the next request with the same configuration.
    """
    key = json.dumps({k: v for k, v in config.items() if k != "weights"}, sort_keys=True,
                     default=repr)  # fmt: skip
    model = _SHAPE_MODELS.get(key)
    if model is None:
        model = configured_backbone(config, weights=None)
        _SHAPE_MODELS[key] = model
        while len(_SHAPE_MODELS) > _SHAPE_MODELS_KEPT:
            _SHAPE_MODELS.popitem(last=False)
    else:
        _SHAPE_MODELS.move_to_end(key)
    return model


def check_input(model, shape: tuple) -> None:
    """Refuse an input whose known sizes differ from the backbone's ``input_shape``."""
    want = tuple(model.input_shape)
    if len(want) != len(shape) or any(
        w is not None and s is not None and w != s for w, s in zip(want[1:], shape[1:])
    ):
        from studio.engine.errors import shape_text

        raise EngineError(
            f"{model.name} is built for inputs of shape {shape_text(want)} (its input_shape) "
            f"but receives {shape_text(shape)}. Set input_shape to "
            f"{list(shape[1:])}, or resize the images before it."
        )


# --------------------------------------------------------------------------- PreprocessInput


@keras.saving.register_keras_serializable(package="studio")
class PreprocessInput(keras.layers.Layer):
    """``keras.applications.<family>.preprocess_input`` of a model, as a layer.

    The same maths as Keras' function (``keras.ops`` only, so it exports to TFLite and
    ONNX): "tf" scales 0..255 to -1..1, "torch" to 0..1 then ImageNet mean and standard
    deviation, "caffe" flips RGB to BGR and subtracts the ImageNet mean; EfficientNet,
    EfficientNetV2, ConvNeXt and MobileNetV3 preprocess inside the model, so it passes the
    images through.
    """

    def __init__(self, model: str = "MobileNetV2", data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.mode = preprocess_mode(model)
        self.data_format = data_format
        self.supports_masking = True

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        channels_first = (self.data_format or keras.config.image_data_format()) == "channels_first"
        mode = self.mode
        if mode == "none":
            return x
        if mode == "tf":
            return x / 127.5 - 1.0
        axis = -3 if channels_first else -1
        rank = len(x.shape)

        def per_channel(values):
            shape = [1] * rank
            shape[axis] = 3
            return ops.reshape(ops.convert_to_tensor(values, dtype=x.dtype), shape)

        if mode == "torch":
            return (x / 255.0 - per_channel(TORCH_MEAN)) / per_channel(TORCH_STD)
        # caffe: RGB -> BGR, then the ImageNet mean per channel, no scaling
        x = ops.flip(x, axis=axis)
        return x - per_channel(CAFFE_MEAN)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"model": self.model, "data_format": self.data_format})
        return config


# --------------------------------------------------------------------------- expanding


def backbone_subgraph(node: Node) -> Graph:
    """The layers of a Backbone node as a Studio graph (built with ``weights=None``; a frozen
    backbone's layers carry ``trainable: false``)."""
    from studio.catalog import load_catalog
    from studio.engine.importer import config_to_graph

    catalog = load_catalog()
    spec = catalog.get(node.type)
    config = (spec.config(node.params) if spec else dict(node.params)) | {"name": node.name}
    model = configured_backbone(config, weights=None)
    sub = config_to_graph({"class_name": "Functional", "config": model.get_config()}, catalog)
    sub.name = node.name
    return sub


def expand_backbone(graph: Graph, name: str) -> Graph:
    """A copy of ``graph`` in which Backbone node ``name`` is a nested ``Model`` node of its
    layers, with the same name, position, connections and outputs; everything else (the
    other nodes, the project's code and block definitions, trust) is kept as it is."""
    from studio.core.commands import ExpandNode

    node = graph.node(name)
    if node.type != "Backbone":
        raise EngineError(f"'{name}' is not a Backbone node.", name)
    new = graph.copy()
    ExpandNode(new, name, backbone_subgraph(node)).redo(new)
    return new


def backbone_outputs(config: dict[str, Any], tensors: dict[str, list[Any]]):
    """Shape inference of a Backbone node: ``(output specs, model)`` without downloading
    (``weights=None``) and without rebuilding for a configuration seen recently."""
    inputs = tensors.get("inputs")
    if not inputs:
        raise EngineError("Nothing is connected to input 'inputs'.")
    model = backbone_for_shapes(config)
    check_input(model, tuple(inputs[0].shape))
    out = model.compute_output_spec(inputs[0])
    return (list(out) if isinstance(out, (list, tuple)) else [out]), model
