"""Write the project templates in resources/templates/ (File > New from Template).

Run ``python tools/make_templates.py``; ``--check`` exits 1 when a committed template (or
``index.json``) differs from what this script writes. Like tools/make_examples.py, the
templates are built through the document model. Each one trains as is, offline, on data that
ships with Studio or is generated from a fixed seed (``studio/engine/data.py``), in a few
epochs small enough for a laptop's CPU.

``index.json`` lists the templates in gallery order with the metadata the gallery shows:
``name`` (the file is ``<name>.studio.json``), ``title``, ``purpose`` (one line), ``area``
(the application area), ``data`` (the dataset) and ``training`` (what training does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from make_examples import (  # noqa: E402
    chain,
    classifier_settings,
    data_settings,
    training_settings,
)
from make_examples import mnist_cnn as example_mnist_cnn  # noqa: E402
from make_examples import multi_io as example_multi_io  # noqa: E402
from make_examples import text_classifier as example_text_classifier  # noqa: E402

from studio.catalog import load_catalog  # noqa: E402
from studio.core.graph import Edge, Graph, Node, Output  # noqa: E402
from studio.core.layout import layout_in_place  # noqa: E402
from studio.project import Project, dumps_project  # noqa: E402

TEMPLATES = ROOT / "resources" / "templates"
REGRESSION = ("MeanSquaredError", "MeanAbsoluteError", "mae")


def _add(g: Graph, *nodes: Node) -> None:
    for node in nodes:
        g.add_node(node)


def _link(g: Graph, *pairs: tuple[str, str]) -> None:
    """Connect each (from, to) into ``to``'s first input port; several edges into the same
    node go into the slots 0, 1, ... in the order given (Concatenate, Add, Dot)."""
    slots: dict[str, int] = {}
    catalog = load_catalog()
    for src, dst in pairs:
        port = catalog[g.node(dst).type].inputs[0].name
        slot = slots.get(dst, 0)
        slots[dst] = slot + 1
        g.add_edge(Edge(src, 0, dst, port, slot))


def _conv(name: str, filters: int, activation: str | None = "relu", **extra) -> Node:
    params = {"filters": filters, "kernel_size": [3, 3], "padding": "same"}
    if activation:
        params["activation"] = activation
    return Node(name, "Conv2D", params | extra)


# ----------------------------------------------------------------------------- templates
def mnist_cnn() -> Project:
    project = example_mnist_cnn()
    project.settings["training"]["epochs"] = 3
    project.settings["training"]["callbacks"]["EarlyStopping"]["enabled"] = False
    return project


def text_classifier() -> Project:
    project = example_text_classifier()
    project.settings["training"]["epochs"] = 3
    return project


def multi_io() -> Project:
    project = example_multi_io()
    project.settings["training"]["epochs"] = 10
    return project


def residual_cnn() -> Project:
    g = Graph("residual_cnn")
    _add(
        g,
        Node("image", "InputLayer", {"shape": [28, 28, 1]}),
        _conv("stem", 16),
        _conv("block1_conv1", 16),
        _conv("block1_conv2", 16, activation=None),
        Node("block1_add", "Add"),
        Node("block1_relu", "ReLU"),
        Node("pool", "MaxPooling2D"),
        _conv("widen", 32),
        _conv("block2_conv1", 32),
        _conv("block2_conv2", 32, activation=None),
        Node("block2_add", "Add"),
        Node("block2_relu", "ReLU"),
        Node("global_pool", "GlobalAveragePooling2D"),
        Node("digit", "Dense", {"units": 10, "activation": "softmax"}),
    )
    _link(
        g,
        ("image", "stem"),
        ("stem", "block1_conv1"),
        ("block1_conv1", "block1_conv2"),
        ("stem", "block1_add"),  # the skip connection
        ("block1_conv2", "block1_add"),
        ("block1_add", "block1_relu"),
        ("block1_relu", "pool"),
        ("pool", "widen"),
        ("widen", "block2_conv1"),
        ("block2_conv1", "block2_conv2"),
        ("widen", "block2_add"),
        ("block2_conv2", "block2_add"),
        ("block2_add", "block2_relu"),
        ("block2_relu", "global_pool"),
        ("global_pool", "digit"),
    )
    g.set_outputs([Output("digit", 0)])
    data = data_settings(
        {"kind": "bundled", "name": "digits", "image_size": 28},
        inputs={"image": {"field": "image", "scale": 0.0625}},
        outputs={"digit": {"field": "label", "encoding": "sparse"}},
    )
    training = classifier_settings("digit", epochs=5)
    training["optimizer"]["params"] = {"learning_rate": 0.003}
    return Project(
        name="residual_cnn",
        graph=g,
        settings={"data": data, "training": training},
        description="A residual CNN: two blocks of two convolutions whose input is added back "
        "to their output (skip connections), then global average pooling. Trains on the "
        "bundled digits upscaled to 28x28.",
    )


def unet() -> Project:
    g = Graph("unet")
    _add(
        g,
        Node("image", "InputLayer", {"shape": [32, 32, 1]}),
        _conv("down1", 16),
        Node("pool1", "MaxPooling2D"),
        _conv("down2", 32),
        Node("pool2", "MaxPooling2D"),
        _conv("bottleneck", 64),
        Node("up2", "Conv2DTranspose",
             {"filters": 32, "kernel_size": [2, 2], "strides": [2, 2], "padding": "same"}),
        Node("skip2", "Concatenate"),
        _conv("up2_conv", 32),
        Node("up1", "UpSampling2D"),
        Node("skip1", "Concatenate"),
        _conv("up1_conv", 16),
        Node("mask", "Conv2D", {"filters": 1, "kernel_size": [1, 1], "activation": "sigmoid"}),
    )  # fmt: skip
    _link(
        g,
        ("image", "down1"),
        ("down1", "pool1"),
        ("pool1", "down2"),
        ("down2", "pool2"),
        ("pool2", "bottleneck"),
        ("bottleneck", "up2"),
        ("up2", "skip2"),
        ("down2", "skip2"),  # the U's skip connections: encoder features to the decoder
        ("skip2", "up2_conv"),
        ("up2_conv", "up1"),
        ("up1", "skip1"),
        ("down1", "skip1"),
        ("skip1", "up1_conv"),
        ("up1_conv", "mask"),
    )
    g.set_outputs([Output("mask", 0)])
    data = data_settings(
        {"kind": "bundled", "name": "shapes_segmentation"},
        inputs={"image": {"field": "image"}},
        outputs={"mask": {"field": "mask", "encoding": "raw"}},
    )
    training = training_settings(
        {"mask": ("BinaryCrossentropy", "BinaryAccuracy", "accuracy")}, epochs=5, batch_size=16
    )
    training["optimizer"]["params"] = {"learning_rate": 0.003}
    return Project(
        name="unet",
        graph=g,
        settings={"data": data, "training": training},
        description="A small U-Net for image segmentation: convolutions and pooling down, "
        "transposed convolution and upsampling back up, with the encoder's features "
        "concatenated in; a sigmoid gives each pixel's chance of belonging to a shape. Trains "
        "on generated images of circles and rectangles.",
    )


def lstm_forecaster() -> Project:
    g = Graph("lstm_forecaster")
    chain(
        g,
        [
            Node("window", "InputLayer", {"shape": [30, 1]}),
            Node("lstm", "LSTM", {"units": 32}),
            Node("dense", "Dense", {"units": 16, "activation": "relu"}),
            Node("next", "Dense", {"units": 1}),
        ],
    )
    data = data_settings(
        {"kind": "bundled", "name": "timeseries"},
        inputs={"window": {"field": "window"}},
        outputs={"next": {"field": "next", "encoding": "raw"}},
    )
    training = training_settings({"next": REGRESSION}, epochs=5)
    training["optimizer"]["params"] = {"learning_rate": 0.003}
    return Project(
        name="lstm_forecaster",
        graph=g,
        settings={"data": data, "training": training},
        description="An LSTM forecaster: reads the last 30 steps of a time series and "
        "predicts the next value. Trains on a generated series with two seasons and noise.",
    )


def recommender() -> Project:
    g = Graph("recommender")
    _add(
        g,
        Node("user", "InputLayer", {"shape": [1], "dtype": "int32"}),
        Node("item", "InputLayer", {"shape": [1], "dtype": "int32"}),
        Node("user_embedding", "Embedding", {"input_dim": 200, "output_dim": 8}),
        Node("item_embedding", "Embedding", {"input_dim": 100, "output_dim": 8}),
        Node("user_vector", "Flatten"),
        Node("item_vector", "Flatten"),
        Node("match", "Dot", {"axes": 1}),
        Node("rating", "Dense", {"units": 1}),
    )
    _link(
        g,
        ("user", "user_embedding"),
        ("item", "item_embedding"),
        ("user_embedding", "user_vector"),
        ("item_embedding", "item_vector"),
        ("user_vector", "match"),
        ("item_vector", "match"),
        ("match", "rating"),
    )
    g.set_outputs([Output("rating", 0)])
    data = data_settings(
        {"kind": "bundled", "name": "interactions"},
        inputs={"user": {"field": "user"}, "item": {"field": "item"}},
        outputs={"rating": {"field": "rating", "encoding": "raw"}},
    )
    training = training_settings({"rating": REGRESSION}, epochs=8, batch_size=64)
    training["optimizer"]["params"] = {"learning_rate": 0.01}
    return Project(
        name="recommender",
        graph=g,
        settings={"data": data, "training": training},
        description="An embedding recommender: a vector for each user and each item, their "
        "dot product scaled to a rating (matrix factorisation). Trains on generated ratings "
        "of 100 items by 200 users.",
    )


def autoencoder() -> Project:
    g = Graph("autoencoder")
    chain(
        g,
        [
            Node("image", "InputLayer", {"shape": [784]}),
            Node("scale_in", "Rescaling", {"scale": 0.0625}),
            Node("encode", "Dense", {"units": 128, "activation": "relu"}),
            Node("code", "Dense", {"units": 32, "activation": "relu"}),
            Node("decode", "Dense", {"units": 128, "activation": "relu"}),
            Node("pixels", "Dense", {"units": 784, "activation": "sigmoid"}),
            Node("reconstruction", "Rescaling", {"scale": 16.0}),
        ],
    )
    # The same field is the input and the target; the model works in the digits' own 0..16
    # range (Rescaling in and out), so input and target need no different preprocessing.
    data = data_settings(
        {"kind": "bundled", "name": "digits", "image_size": 28, "flatten": True},
        inputs={"image": {"field": "image"}},
        outputs={"reconstruction": {"field": "image", "encoding": "raw"}},
    )
    training = training_settings({"reconstruction": REGRESSION}, epochs=5)
    return Project(
        name="autoencoder",
        graph=g,
        settings={"data": data, "training": training},
        description="A dense autoencoder: squeezes each 28x28 digit into 32 numbers and "
        "rebuilds it from them; the target is the input itself. Trains on the bundled digits.",
    )


def transfer_learning() -> Project:
    g = Graph("transfer_learning")
    chain(
        g,
        [
            Node("image", "InputLayer", {"shape": [32, 32, 3]}),
            Node("preprocess", "PreprocessInput", {"model": "MobileNetV2"}),
            Node(
                "backbone",
                "Backbone",
                {
                    "model": "MobileNetV2",
                    "weights": None,
                    "include_top": False,
                    "pooling": "avg",
                    # Without pretrained weights a frozen backbone's features are noise
                    # (about 1e-13, nothing to learn from), so offline it trains with the head.
                    # With weights "imagenet", set trainable false to train the head alone.
                    "trainable": True,
                },
            ),
            Node("dropout", "Dropout", {"rate": 0.2}),
            Node("shape", "Dense", {"units": 3, "activation": "softmax"}),
        ],
    )
    data = data_settings(
        {"kind": "bundled", "name": "shapes_rgb"},
        inputs={"image": {"field": "image"}},
        outputs={"shape": {"field": "label", "encoding": "sparse"}},
    )
    training = classifier_settings("shape", epochs=3)
    return Project(
        name="transfer_learning",
        graph=g,
        settings={"data": data, "training": training},
        description="Transfer learning: a MobileNetV2 backbone turns each image into features "
        "and a small new head classifies them. The template uses no pretrained weights so "
        "that it trains offline, and then the backbone trains too; set its weights to "
        "imagenet (downloaded once) and trainable off to train only the head on pretrained "
        "features. Trains on generated colour shapes.",
    )


# ----------------------------------------------------------------------------- the index
#: (builder, title, purpose, application area, data, what training does), in gallery order.
TEMPLATES_INDEX = [
    (mnist_cnn, "Image classifier (CNN)", "Classify small grey images with convolutions.",
     "Computer vision", "digits, 8x8 upscaled to 28x28",
     "3 epochs, sparse categorical cross-entropy, accuracy"),
    (text_classifier, "Text classifier", "Tell positive from negative reviews with a "
     "bidirectional LSTM.", "Natural language", "reviews (bundled product reviews)",
     "3 epochs, binary cross-entropy, accuracy"),
    (multi_io, "Multi-input, multi-output", "Two inputs merged into a regression and a "
     "classification head.", "Tabular", "multi_io (generated)",
     "10 epochs, MSE + cross-entropy, one loss per output"),
    (residual_cnn, "Residual CNN", "Convolution blocks with Add skip connections, as in "
     "ResNet.", "Computer vision", "digits, upscaled to 28x28",
     "5 epochs, sparse categorical cross-entropy, accuracy"),
    (unet, "U-Net segmentation", "Mark every pixel that belongs to a shape.",
     "Computer vision", "shapes_segmentation (generated)",
     "5 epochs, per-pixel binary cross-entropy, accuracy"),
    (lstm_forecaster, "LSTM forecaster", "Predict a time series' next value from the last "
     "30 steps.", "Time series", "timeseries (generated)", "5 epochs, mean squared error"),
    (recommender, "Embedding recommender", "Predict a user's rating of an item from learned "
     "embeddings.", "Recommendation", "interactions (generated)",
     "8 epochs, mean squared error on ratings 1..5"),
    (autoencoder, "Autoencoder", "Compress images to 32 numbers and rebuild them.",
     "Representation learning", "digits, 28x28 as 784 values (input = target)",
     "5 epochs, mean squared reconstruction error"),
    (transfer_learning, "Transfer learning", "A new classifier head on a MobileNetV2 "
     "backbone (pretrained weights optional).", "Computer vision", "shapes_rgb (generated)",
     "3 epochs, cross-entropy; weights none (offline), so the backbone trains too"),
]  # fmt: skip


def _backbone_available() -> bool:
    return "Backbone" in load_catalog() and "PreprocessInput" in load_catalog()


def build_all() -> dict[str, str]:
    """File name -> text of every template and of index.json."""
    files: dict[str, str] = {}
    index = []
    for build, title, purpose, area, data, training in TEMPLATES_INDEX:
        if build is transfer_learning and not _backbone_available():
            print("skipped transfer_learning: the catalog has no Backbone node type yet")
            continue
        project = build()
        layout_in_place(project.graph)
        files[f"{project.name}.studio.json"] = dumps_project(project)
        index.append({"name": project.name, "title": title, "purpose": purpose, "area": area,
                      "data": data, "training": training})  # fmt: skip
    text = json.dumps({"format": "studio.templates", "templates": index}, indent=2)
    files["index.json"] = text + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for name, text in build_all().items():
        path = TEMPLATES / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run: python tools/make_templates.py)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
