"""Every keras.applications model (weights=None): import, validate, compile back, compare.

Prints one line per model: layers, whether the parameter count and the config are equal,
the largest output difference on the same random input with the same weights, and time.
Run: ``.venv/bin/python bench/applications.py [NAME ...]``. Takes several minutes for all.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from studio.core.validation import validate  # noqa: E402
from studio.engine import load_keras  # noqa: E402


def main(names: list[str]) -> int:
    keras = load_keras()
    from studio.engine.build import build_model
    from studio.engine.importer import config_to_graph
    from studio.engine.weights import apply_weights, layer_weights

    names = names or sorted(n for n in dir(keras.applications) if n[0].isupper())
    failures = 0
    for name in names:
        start = time.perf_counter()
        try:
            original = getattr(keras.applications, name)(weights=None)
            graph = config_to_graph({"class_name": "Functional", "config": original.get_config()})
            errors = [d for d in validate(graph) if d.severity == "error"]
            compiled = build_model(graph)
            apply_weights(compiled, layer_weights(original))
            shape = tuple(d or 224 for d in original.input_shape[1:])
            x = np.random.default_rng(0).random((1, *shape)).astype("float32")
            diff = float(np.max(np.abs(original(x) - compiled(x))))
            same_params = compiled.count_params() == original.count_params()
            same_config = compiled.get_config() == original.get_config()
            ok = not errors and same_params and same_config and diff < 1e-5
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {name:<20} {len(original.layers):>5} layers "
                f"{original.count_params():>12,} params  same params {same_params}  "
                f"same config {same_config}  max diff {diff:.1e}  errors {len(errors)}  "
                f"{time.perf_counter() - start:5.1f} s",
                flush=True,
            )
        except Exception as exc:  # report and go on with the next model
            failures += 1
            print(f"FAIL {name:<20} {type(exc).__name__}: {exc}", flush=True)
        keras.backend.clear_session()
    print(f"{len(names) - failures} of {len(names)} applications round-trip exactly")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
