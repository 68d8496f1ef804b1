"""keras.applications models (weights=None) import, validate and compile back identically."""

import numpy as np
import pytest

from studio.core.validation import validate
from studio.engine.build import build_model
from studio.engine.importer import config_to_graph
from studio.engine.weights import apply_weights, layer_weights

APPLICATIONS = [
    ("NASNetMobile", {}),
    ("MobileNet", {}),
    ("MobileNetV2", {}),
    ("MobileNetV3Small", {"input_shape": (224, 224, 3)}),
    ("EfficientNetB0", {}),
    ("EfficientNetV2B0", {}),
    ("DenseNet121", {}),
    ("ResNet50", {}),
    ("ResNet50V2", {}),
    ("InceptionV3", {}),
    ("Xception", {}),
    ("ConvNeXtTiny", {}),
    ("InceptionResNetV2", {}),
    ("VGG16", {"include_top": False, "input_shape": (64, 64, 3)}),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs", APPLICATIONS, ids=[a for a, _ in APPLICATIONS])
def test_application_round_trip(keras, name, kwargs):
    original = getattr(keras.applications, name)(weights=None, **kwargs)
    graph = config_to_graph({"class_name": "Functional", "config": original.get_config()})

    errors = [d for d in validate(graph) if d.severity == "error"]
    assert errors == []
    layer_nodes = [n for n in graph.nodes if not n.shared_with and not n.is_op]
    assert len(layer_nodes) == len(original.layers)

    compiled = build_model(graph)
    assert compiled.count_params() == original.count_params()
    assert compiled.get_config() == original.get_config()
    assert [layer.name for layer in compiled.layers] == [layer.name for layer in original.layers]

    report = apply_weights(compiled, layer_weights(original))
    assert report["skipped"] == {}
    x = np.random.default_rng(0).random((2, *original.input_shape[1:])).astype("float32")
    diff = np.max(np.abs(original(x, training=False) - compiled(x, training=False)))
    assert diff < 1e-5
