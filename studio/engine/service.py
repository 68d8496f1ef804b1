"""The engine as a separate process, serving the editor over a pipe.

The editor's window must never wait on TensorFlow. Keras' layer building is pure Python that
holds the interpreter lock for long stretches; in a thread of the GUI process it starves the
GUI thread, whose every paint and event callback needs that lock (measured: 200 ms stalls
while NASNetMobile's shapes were inferred). A process has its own interpreter, so the
window stays smooth, and a crash inside TensorFlow cannot take the editor down with it.

Messages (tuples, pickled by ``multiprocessing``):

* to the engine: ``("shapes", generation, graph)``, ``("job", job_id, kind, args)`` (kinds:
  ``"import"``, ``"shapes-of"``, ``"clear-cache"``, ``"data-preview"``, ``"export"``,
  ``"expand-backbone"``),
  ``("quit",)``;
* from the engine: ``("loaded", versions, seconds, about)`` (``about``: a dict of versions
  and devices, :func:`studio.engine.about`), ``("load_failed", message)``,
  ``("shapes", generation, ShapeResult)``, ``("job", job_id, result, error)``,
  ``("progress", job_id, fraction, text)`` (a download or a long load in a job).

Shape requests are coalesced: when several wait, only the newest is answered.
"""

from __future__ import annotations

import time
from typing import Any


def _job(kind: str, args: tuple) -> Any:
    if kind == "import":
        from studio.engine.importer import import_model_file

        return import_model_file(*args)
    if kind == "export":
        # (project dict, project folder, format, out, weights, quantize, trusted_code): a
        # project dict never carries the document's trust in its code, so it comes along.
        from studio.engine.export import export_model

        *call, trusted_code = args
        return export_model(*call, trusted_code=bool(trusted_code))
    if kind == "expand-backbone":  # (graph, node name) -> the graph with it as a Model node
        from studio.engine.applications import expand_backbone

        return expand_backbone(*args)
    if kind == "shapes-of":
        from studio.engine.shapes import infer_shapes

        return infer_shapes(*args)
    raise ValueError(f"Unknown engine job {kind!r}.")


def _preview(inference, data: dict, graph, base_dir, progress=None) -> dict:
    from studio.engine.data import preview
    from studio.engine.shapes import io_shapes

    inputs, outputs = io_shapes(graph, inference.infer(graph))
    return preview(data, inputs, outputs, base_dir, progress=progress)


def serve(conn, env: dict | None = None) -> None:
    """The engine process's main loop (``multiprocessing`` target). ``env``: environment
    variables set before TensorFlow is imported (``CUDA_VISIBLE_DEVICES=-1``: no GPU)."""
    import os

    os.environ.update(env or {})
    start = time.perf_counter()
    try:
        from studio.engine import about
        from studio.engine import versions as engine_versions
        from studio.engine.shapes import ShapeInference

        versions = engine_versions()
        info = about()
        inference = ShapeInference()
    except Exception as exc:  # reported in the window's status bar
        conn.send(("load_failed", f"TensorFlow could not be loaded: {exc}"))
        return
    conn.send(("loaded", versions, time.perf_counter() - start, info))
    while True:
        try:
            messages = [conn.recv()]
            while conn.poll():
                messages.append(conn.recv())
        except (EOFError, OSError):  # the editor has gone
            return
        latest_shapes = None
        for message in messages:
            if message[0] == "quit":
                return
            if message[0] == "shapes":
                latest_shapes = message
            elif message[0] == "job":
                _, job_id, kind, args = message
                try:
                    if kind == "clear-cache":  # the next request infers every node again
                        inference.clear()
                        result, error = None, ""
                    elif kind == "data-preview":  # (data settings, graph, project folder)

                        def progress(fraction, text, job_id=job_id):
                            conn.send(("progress", job_id, float(fraction), str(text)))

                        result, error = _preview(inference, *args, progress=progress), ""
                    else:
                        result, error = _job(kind, args), ""
                except Exception as exc:
                    result = None
                    error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                conn.send(("job", job_id, result, error))
        if latest_shapes is not None:
            _, generation, graph = latest_shapes
            try:
                result = inference.infer(graph)
            except Exception as exc:  # never let one bad graph end the service
                conn.send(("load_failed", f"Shape inference failed: {exc}"))
                continue
            conn.send(("shapes", generation, result))
