"""Write the bundled example projects in resources/examples/ from the seed tutorial's models.

Run ``python tools/make_examples.py``; ``--check`` exits 1 when a committed example differs
from what this script writes. The examples are built through the document model, so they are
exactly what a user would get by drawing them in Studio.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.catalog import load_catalog  # noqa: E402
from studio.core.graph import Edge, Graph, Node, Output  # noqa: E402
from studio.core.layout import layout_in_place  # noqa: E402
from studio.core.settings import DEFAULT_CALLBACKS  # noqa: E402
from studio.project import Project, dumps_project  # noqa: E402

EXAMPLES = ROOT / "resources" / "examples"


def chain(graph: Graph, nodes: list[Node]) -> None:
    prev = None
    for node in nodes:
        graph.add_node(node)
        if prev is not None:
            port = load_catalog()[node.type].inputs[0].name
            graph.add_edge(Edge(prev.name, 0, node.name, port))
        prev = node
    graph.set_outputs([Output(nodes[-1].name, 0)])


def callbacks(**enabled: dict) -> dict:
    """Callback settings: the defaults, with ``enabled`` ones switched on (with params)."""
    out = {}
    for name, entry in DEFAULT_CALLBACKS.items():
        if name in enabled:
            out[name] = {"enabled": True, "params": enabled[name]}
        else:
            out[name] = {"enabled": entry["enabled"], "params": dict(entry["params"])}
    return out


def data_settings(source: dict, inputs: dict, outputs: dict, test: float = 0.1) -> dict:
    """Data settings: ``source`` with 20 % for validation and ``test`` for testing, shuffled
    with seed 42, cached and prefetched."""
    return {
        "source": source,
        "validation": {"split": 0.2},
        "test": {"split": test},
        "inputs": inputs,
        "outputs": outputs,
        "shuffle": True, "seed": 42, "cache": True, "prefetch": True,
    }  # fmt: skip


def training_settings(
    outputs: dict[str, tuple[str, str, str]], epochs: int, batch_size: int = 32, **extra
) -> dict:
    """Training settings: Adam, and for each output (name -> (loss, metric, metric name)) a
    loss of weight 1 and one metric; ``extra`` callbacks switched on (see callbacks())."""
    return {
        "optimizer": {"class": "Adam", "params": {}, "schedule": None},
        "losses": {
            output: {"class": loss, "params": {}, "weight": 1.0}
            for output, (loss, _metric, _name) in outputs.items()
        },
        "metrics": {
            output: [{"class": metric, "params": {"name": name}}]
            for output, (_loss, metric, name) in outputs.items()
        },
        "epochs": epochs,
        "batch_size": batch_size,
        "steps_per_execution": 1,
        "jit_compile": False,
        "mixed_precision": False,
        "callbacks": callbacks(**extra),
    }


CLASSIFIER = ("SparseCategoricalCrossentropy", "SparseCategoricalAccuracy", "accuracy")


def classifier_settings(output: str, epochs: int, batch_size: int = 32, **extra) -> dict:
    return training_settings({output: CLASSIFIER}, epochs, batch_size, **extra)


def mnist_cnn() -> Project:
    g = Graph("mnist_cnn")
    chain(
        g,
        [
            Node("image", "InputLayer", {"shape": [28, 28, 1]}),
            Node("conv2d", "Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
            Node("max_pooling2d", "MaxPooling2D"),
            Node("conv2d_1", "Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
            Node("max_pooling2d_1", "MaxPooling2D"),
            Node("flatten", "Flatten"),
            Node("dense", "Dense", {"units": 128, "activation": "relu"}),
            Node("dropout", "Dropout", {"rate": 0.5}),
            Node("dense_1", "Dense", {"units": 10, "activation": "softmax"}),
        ],
    )
    # The seed trains on keras.datasets.mnist, which downloads; the bundled stand-in is
    # scikit-learn's digits, upscaled from 8x8 to 28x28 (pick "keras mnist" to use MNIST).
    data = data_settings(
        {"kind": "bundled", "name": "digits", "image_size": 28},
        inputs={"image": {"field": "image", "scale": 0.0625}},
        outputs={"dense_1": {"field": "label", "encoding": "sparse"}},
    )
    training = classifier_settings(
        "dense_1",
        epochs=10,
        EarlyStopping={"monitor": "val_loss", "patience": 3},
    )
    return Project(
        name="mnist_cnn",
        graph=g,
        settings={"data": data, "training": training},
        description="The seed's image-classification CNN for 28x28 grey images, 10 classes. "
        "Trains on scikit-learn's digits upscaled to 28x28 (bundled, offline).",
    )


def functional_mlp() -> Project:
    g = Graph("functional_mlp")
    chain(
        g,
        [
            Node("inputs", "InputLayer", {"shape": [784]}),
            Node("dense", "Dense", {"units": 64, "activation": "relu"}),
            Node("dense_1", "Dense", {"units": 32, "activation": "relu"}),
            Node("outputs", "Dense", {"units": 10, "activation": "softmax"}),
        ],
    )
    data = data_settings(
        {"kind": "bundled", "name": "digits", "image_size": 28, "flatten": True},
        inputs={"inputs": {"field": "image", "scale": 0.0625}},
        outputs={"outputs": {"field": "label", "encoding": "sparse"}},
    )
    return Project(
        name="functional_mlp",
        graph=g,
        settings={"data": data, "training": classifier_settings("outputs", epochs=20)},
        description="The seed's Functional API example: a 784-64-32-10 perceptron, trained on "
        "the bundled digits as 784 pixels.",
    )


def text_classifier() -> Project:
    g = Graph("text_classifier")
    chain(
        g,
        [
            Node("tokens", "InputLayer", {"shape": [200], "dtype": "int32"}),
            Node("embedding", "Embedding", {"input_dim": 10000, "output_dim": 128}),
            Node(
                "bidirectional",
                "Bidirectional",
                {
                    "layer": {
                        "module": "keras.layers",
                        "class_name": "LSTM",
                        "config": {"name": "lstm", "units": 64, "return_sequences": True},
                        "registered_name": None,
                    }
                },
            ),
            Node("global_max_pooling1d", "GlobalMaxPooling1D"),
            Node("dense", "Dense", {"units": 64, "activation": "relu"}),
            Node("dense_1", "Dense", {"units": 1, "activation": "sigmoid"}),
        ],
    )
    # Keras 3 has no Tokenizer: TextVectorization (adapted on the training texts) gives the
    # token ids, padded or cut to 200 like the seed's pad_sequences(maxlen=200).
    data = data_settings(
        {"kind": "bundled", "name": "reviews"},
        inputs={"tokens": {"field": "text",
                           "text": {"max_tokens": 10000, "sequence_length": 200}}},
        outputs={"dense_1": {"field": "label", "encoding": "raw"}},
    )  # fmt: skip
    training = training_settings(
        {"dense_1": ("BinaryCrossentropy", "BinaryAccuracy", "accuracy")}, epochs=5
    )
    return Project(
        name="text_classifier",
        graph=g,
        settings={"data": data, "training": training},
        description="The seed's text classifier: Embedding, bidirectional LSTM, max pooling. "
        "Trains on the bundled product reviews (positive or negative).",
    )


def multi_io() -> Project:
    g = Graph("multi_io")
    for node in [
        Node("input1", "InputLayer", {"shape": [64]}),
        Node("input2", "InputLayer", {"shape": [128]}),
        Node("merged", "Concatenate"),
        Node("shared", "Dense", {"units": 64, "activation": "relu"}),
        Node("regression", "Dense", {"units": 1}),
        Node("classification", "Dense", {"units": 5, "activation": "softmax"}),
    ]:
        g.add_node(node)
    g.add_edge(Edge("input1", 0, "merged", "inputs", 0))
    g.add_edge(Edge("input2", 0, "merged", "inputs", 1))
    g.add_edge(Edge("merged", 0, "shared", "inputs"))
    g.add_edge(Edge("shared", 0, "regression", "inputs"))
    g.add_edge(Edge("shared", 0, "classification", "inputs"))
    g.set_outputs([Output("regression", 0), Output("classification", 0)])
    data = data_settings(
        {"kind": "bundled", "name": "multi_io"},
        inputs={"input1": {"field": "input1"}, "input2": {"field": "input2"}},
        outputs={"regression": {"field": "regression", "encoding": "raw"},
                 "classification": {"field": "classification", "encoding": "sparse"}},
    )  # fmt: skip
    training = training_settings(
        {
            "regression": ("MeanSquaredError", "MeanAbsoluteError", "mae"),
            "classification": CLASSIFIER,
        },
        epochs=20,
    )
    return Project(
        name="multi_io",
        graph=g,
        settings={"data": data, "training": training},
        description="The seed's multi-input, multi-output model: a regression and a "
        "classification head on two merged inputs, trained on generated data.",
    )


def iris_mlp() -> Project:
    g = Graph("iris_mlp")
    chain(
        g,
        [
            Node("measurements", "InputLayer", {"shape": [4]}),
            Node("dense", "Dense", {"units": 16, "activation": "relu"}),
            Node("dense_1", "Dense", {"units": 16, "activation": "relu"}),
            Node("species", "Dense", {"units": 3, "activation": "softmax"}),
        ],
    )
    data = data_settings(
        {"kind": "bundled", "name": "iris"},
        inputs={"measurements": {"field": "features", "normalize": True}},
        outputs={"species": {"field": "label", "encoding": "sparse"}},
        test=0.2,
    )
    training = classifier_settings("species", epochs=60, batch_size=16)
    training["optimizer"]["params"] = {"learning_rate": 0.01}
    return Project(
        name="iris_mlp",
        graph=g,
        settings={"data": data, "training": training},
        description="A small perceptron for scikit-learn's iris flowers: four measurements, "
        "standardised by a Normalization layer adapted on the training split, three species.",
    )


BUILDERS = [mnist_cnn, functional_mlp, text_classifier, multi_io, iris_mlp]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for build in BUILDERS:
        project = build()
        layout_in_place(project.graph)
        text = dumps_project(project)
        path = EXAMPLES / f"{project.name}.studio.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run: python tools/make_examples.py)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
