"""Speed of Studio's core against plain Keras on the same work, measured in one run.

Prints:
1. validation time of a 2,000-node graph (target < 50 ms), before TensorFlow is imported;
2. import + compile of NASNetMobile (771 layers) as a ratio to ``keras.Model.from_config``
   on the same config (target <= 1.5);
3. incremental shape update after one parameter edit in a 300-node Conv/BatchNorm/ReLU
   chain (target < 100 ms), for an edit that changes every downstream shape and one that
   changes none, next to the cold inference of the whole graph.

Run: ``make bench`` (or ``.venv/bin/python bench/core.py``).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from studio.core.graph import Edge, Graph, Node, Output  # noqa: E402


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def conv_chain(n_nodes: int) -> Graph:
    """Input, then Conv2D/BatchNormalization/ReLU repeated, then pooling and a classifier."""
    g = Graph("chain")
    g.add_node(Node("input", "InputLayer", {"shape": [32, 32, 3]}))
    prev = "input"
    i = 0
    kinds = [
        ("Conv2D", {"filters": 16, "kernel_size": [3, 3], "padding": "same"}),
        ("BatchNormalization", {}),
        ("ReLU", {}),
    ]
    while len(g) < n_nodes - 2:
        kind, params = kinds[i % 3]
        name = f"{kind.lower()}_{i}"
        params = dict(params)
        if kind == "Conv2D":  # distinct widths, so no two layers share a cache entry
            params["filters"] = 8 + (i // 3) % 40
        g.add_node(Node(name, kind, params))
        g.add_edge(Edge(prev, 0, name, "inputs"))
        prev = name
        i += 1
    g.add_node(Node("pool", "GlobalAveragePooling2D"))
    g.add_edge(Edge(prev, 0, "pool", "inputs"))
    g.add_node(Node("head", "Dense", {"units": 10, "activation": "softmax"}))
    g.add_edge(Edge("pool", 0, "head", "inputs"))
    g.set_outputs([Output("head", 0)])
    return g


def dense_chain(n_nodes: int) -> Graph:
    g = Graph("big")
    g.add_node(Node("input", "InputLayer", {"shape": [64]}))
    for i in range(1, n_nodes):
        kind, params = [("Dense", {"units": 64, "activation": "relu"}), ("Dropout", {"rate": 0.1})][
            i % 2
        ]
        g.add_node(Node(f"n{i}", kind, params))
        g.add_edge(Edge(f"n{i - 1}" if i > 1 else "input", 0, f"n{i}", "inputs"))
    g.set_outputs([Output(f"n{n_nodes - 1}", 0)])
    return g


def bench_validation() -> None:
    from studio.catalog import load_catalog
    from studio.core.validation import validate

    catalog = load_catalog()
    graph = dense_chain(2000)
    validate(graph, catalog)  # warm caches
    seconds, diags = timed(lambda: validate(graph, catalog), repeat=7)
    tf_loaded = "tensorflow" in sys.modules
    print(
        f"validation, 2,000-node graph: {seconds * 1000:.1f} ms (target < 50 ms); "
        f"{len(diags)} diagnostics; TensorFlow imported: {tf_loaded}"
    )


def bench_nasnet() -> None:
    import copy

    from studio.engine import load_keras

    keras = load_keras()

    from studio.engine.build import build_model
    from studio.engine.importer import config_to_graph

    model = keras.applications.NASNetMobile(weights=None)
    data = {"class_name": "Functional", "config": model.get_config()}
    n_layers = len(model.layers)
    del model
    keras.backend.clear_session()

    def plain():
        m = keras.Model.from_config(copy.deepcopy(data["config"]))  # it consumes its input
        keras.backend.clear_session()
        return m

    def studio_import_and_compile():
        graph = config_to_graph(copy.deepcopy(data))
        m = build_model(graph)
        keras.backend.clear_session()
        return m

    def studio_import_only():
        return config_to_graph(data)

    # Alternate the two so that drift in the machine's speed affects both alike.
    t_plain, t_studio = [], []
    for _ in range(3):
        t_plain.append(timed(plain, repeat=1)[0])
        t_studio.append(timed(studio_import_and_compile, repeat=1)[0])
    t_import = timed(studio_import_only, repeat=3)[0]
    p, s = statistics.median(t_plain), statistics.median(t_studio)
    print(
        f"NASNetMobile ({n_layers} layers): keras.Model.from_config {p:.2f} s; "
        f"Studio import + compile {s:.2f} s (import alone {t_import:.2f} s); "
        f"ratio {s / p:.2f} (target <= 1.5)"
    )


def bench_incremental() -> None:
    from studio.engine.shapes import ShapeInference

    graph = conv_chain(300)
    engine = ShapeInference()
    cold = engine.infer(graph)
    assert not cold.errors, cold.errors
    middle_conv = [n.name for n in graph.nodes if n.type == "Conv2D"][len(graph) // 6]
    middle_bn = [n.name for n in graph.nodes if n.type == "BatchNormalization"][len(graph) // 6]

    def edit(name, key, values):
        times, counts = [], []
        for v in values:
            graph.set_params(name, {**graph.node(name).params, key: v})
            r = engine.infer(graph)
            times.append(r.seconds)
            counts.append(len(r.recomputed))
        return statistics.median(times), max(times), statistics.median(counts)

    filters = [24, 32, 40, 48, 56, 64, 72]
    med, worst, n = edit(middle_conv, "filters", filters)
    print(
        f"incremental shapes, 300-node chain: cold {cold.seconds * 1000:.0f} ms; "
        f"edit {middle_conv}.filters (changes the next {n:.0f} nodes): median "
        f"{med * 1000:.0f} ms, worst {worst * 1000:.0f} ms (target < 100 ms)"
    )
    med, worst, n = edit(middle_bn, "momentum", [0.9, 0.95, 0.97, 0.98, 0.991, 0.995, 0.999])
    print(
        f"incremental shapes, 300-node chain: edit {middle_bn}.momentum (shapes unchanged, "
        f"{n:.0f} node recomputed): median {med * 1000:.1f} ms, worst {worst * 1000:.1f} ms"
    )
    sizes = [[33, 33, 3], [34, 34, 3], [35, 35, 3], [36, 36, 3], [37, 37, 3]]
    med, worst, n = edit("input", "shape", sizes)
    print(
        f"incremental shapes, 300-node chain: edit input.shape (worst case: all {n:.0f} "
        f"nodes recomputed): median {med * 1000:.0f} ms, worst {worst * 1000:.0f} ms"
    )


def main() -> int:
    bench_validation()
    bench_nasnet()
    bench_incremental()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
