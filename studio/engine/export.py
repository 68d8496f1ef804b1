"""Export a project's model: Keras files, weights, a SavedModel, TFLite, ONNX, a summary.

``export_model(project_dict, project_dir, fmt, out)`` builds the model from the graph
(``build_model``), loads a studio weights file by layer name when asked (otherwise the
weights are fresh, seeded from the data settings' ``seed``), and writes ``out`` atomically:
a temporary file (or folder) beside it, then a rename, so a failed export leaves no partial
file and an existing target as it was.

A converter's refusal becomes an :class:`ExportError` naming the layer (or op) it refused.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine import EngineError, load_keras

keras = load_keras()

MODEL_FORMATS = ("keras", "h5", "weights", "savedmodel", "tflite", "onnx", "summary")
SUFFIXES = {
    "keras": ".keras",
    "h5": ".h5",
    "weights": ".weights.h5",
    "savedmodel": "",  # a folder
    "tflite": ".tflite",
    "onnx": ".onnx",
    "summary": ".md",
}
QUANTIZATIONS = ("float16", "dynamic")

Progress = Callable[[float, str], None]


class ExportError(Exception):
    """An export that failed, in plain words; ``where`` names a layer/node (or ``weights``)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


# ===================================================================== the entry point
def export_model(
    project: dict,
    project_dir: str | os.PathLike | None,
    fmt: str,
    out: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    quantize: str | None = None,
    progress: Progress | None = None,
    trusted_code: bool = False,
) -> dict[str, Any]:
    """Build ``project``'s model and write it to ``out`` in format ``fmt``.

    Args:
        project: ``studio.project.project_to_dict(p)``.
        project_dir: the folder a relative ``weights`` path is relative to.
        fmt: one of :data:`MODEL_FORMATS`.
        out: the file (the folder for ``savedmodel``) to write; replaced only on success.
        weights: a studio weights file (a run's ``weights.h5`` or the project's), or a run
            folder holding one; None for fresh (seeded) weights.
        quantize: TFLite only: None, ``"float16"`` or ``"dynamic"`` (dynamic-range int8).
        progress: called as ``progress(fraction, text)``.

    Returns:
        ``{"path", "format", "bytes", "seconds", "skipped": {layer: reason}, "loaded": n}``.

    Raises:
        ExportError: the model cannot be built, the weights read, or the converter refused
            a layer/op (``where`` names it when known).
    """
    started = time.perf_counter()
    if fmt not in MODEL_FORMATS:
        raise ExportError(
            f"Unknown export format '{fmt}'; choose one of {', '.join(MODEL_FORMATS)}."
        )
    if quantize is not None:
        if fmt != "tflite":
            raise ExportError("Quantisation applies to TFLite exports only.")
        if quantize not in QUANTIZATIONS:
            raise ExportError(
                f"Unknown quantisation '{quantize}'; choose {' or '.join(QUANTIZATIONS)}."
            )
    out_path = Path(out)
    if not out_path.parent.is_dir():
        raise ExportError(f"The folder {out_path.parent} does not exist.")
    if fmt == "savedmodel" and out_path.exists() and not out_path.is_dir():
        raise ExportError(f"{out_path} exists and is not a folder; a SavedModel is a folder.")
    if fmt != "savedmodel" and out_path.is_dir():
        raise ExportError(f"{out_path} is a folder.")

    def report(fraction: float, text: str) -> None:
        if progress is not None:
            progress(fraction, text)

    report(0.0, "Building the model…")
    model, weight_info = prepare_model(project, project_dir, weights, trusted_code)
    report(0.3, f"Writing {fmt}…")
    if fmt == "savedmodel":
        _atomic_folder(out_path, lambda tmp: _write_savedmodel(model, tmp))
    else:
        writer = _WRITERS[fmt]
        _atomic_file(out_path, SUFFIXES[fmt], lambda tmp: writer(model, tmp, quantize))
    report(1.0, "Done.")
    return {
        "path": str(out_path),
        "format": fmt,
        "bytes": _size(out_path),
        "seconds": time.perf_counter() - started,
        "skipped": weight_info["skipped"],
        "loaded": len(weight_info["loaded"]),
    }


def prepare_model(project: dict, project_dir, weights=None, trusted_code: bool = False):
    """The built model (called once on zeros) and ``{"loaded": [...], "skipped": {...}}``.
    A project with code needs ``trusted_code`` (a project dict never carries trust)."""
    from studio.catalog import load_catalog
    from studio.engine.build import build_model
    from studio.engine.weights import apply_weights, read_weights
    from studio.project import project_from_dict

    proj = project_from_dict(project)
    proj.graph.trusted_code = bool(trusted_code)
    seed = (proj.settings.get("data") or {}).get("seed")
    keras.utils.set_random_seed(int(seed) if isinstance(seed, int) else 0)
    try:
        model = build_model(proj.graph, load_catalog())
    except EngineError as exc:
        raise ExportError(exc.message, exc.node) from None
    info: dict[str, Any] = {"loaded": [], "skipped": {}}
    if weights is not None:
        path = Path(weights)
        if not path.is_absolute() and project_dir is not None:
            path = Path(project_dir) / path
        if path.is_dir():
            path = path / "weights.h5"
        if not path.is_file():
            raise ExportError(f"The weights file {path} does not exist.", "weights")
        try:
            arrays = read_weights(path)
        except (OSError, KeyError, ValueError) as exc:
            raise ExportError(
                f"The weights file {path} cannot be read ({_first_line(exc)}).", "weights"
            ) from None
        info = apply_weights(model, arrays)
    try:
        model(_zeros(model), training=False)  # ONNX export needs a model called once
    except Exception as exc:
        from studio.engine.custom import as_code_error

        error = as_code_error(exc, proj.graph)
        if error is None:
            raise
        raise ExportError(error.message, error.node) from None
    return model, info


# ===================================================================== writers
def _zeros(model):
    ins = []
    for t in model.inputs:
        shape = tuple(1 if d is None else int(d) for d in t.shape)
        ins.append(np.zeros(shape, dtype=str(t.dtype)))
    return ins[0] if len(ins) == 1 else ins


def _write_keras(model, path: str, quantize=None) -> None:
    model.save(path)


def _write_h5(model, path: str, quantize=None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is a legacy format"
        import absl.logging

        level = absl.logging.get_verbosity()
        absl.logging.set_verbosity(absl.logging.ERROR)
        try:
            model.save(path)
        finally:
            absl.logging.set_verbosity(level)


def _write_weights(model, path: str, quantize=None) -> None:
    model.save_weights(path)


def _write_savedmodel(model, path: str) -> None:
    try:
        model.export(path, format="tf_saved_model", verbose=False)
    except Exception as exc:
        raise conversion_error("SavedModel export", exc, model) from None


def _write_tflite(model, path: str, quantize=None) -> None:
    import tensorflow as tf

    options: dict[str, Any] = {}
    if quantize in ("float16", "dynamic"):
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    try:
        model.export(path, format="litert", verbose=False, **options)
    except Exception as exc:
        raise conversion_error("The TFLite converter", exc, model) from None


def _write_onnx(model, path: str, quantize=None) -> None:
    import logging

    quiet = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf2onnx's NumPy deprecation notices
            model.export(path, format="onnx", verbose=False)
    except Exception as exc:
        raise conversion_error("The ONNX converter (tf2onnx)", exc, model) from None
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)


def _write_summary(model, path: str, quantize=None) -> None:
    Path(path).write_text(summary_markdown(model), encoding="utf-8")


_WRITERS: dict[str, Callable[[Any, str, Any], None]] = {
    "keras": _write_keras,
    "h5": _write_h5,
    "weights": _write_weights,
    "tflite": _write_tflite,
    "onnx": _write_onnx,
    "summary": _write_summary,
}


# ===================================================================== summary
def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _output_shapes(layer) -> str:
    try:
        out = layer.output
    except Exception:  # a shared layer has several outputs: list each application's
        shapes = []
        for node in getattr(layer, "_inbound_nodes", []):
            shapes.extend(_shape_text(t.shape) for t in node.output_tensors)
        return ", ".join(shapes) or "?"
    flat = keras.tree.flatten(out)
    return ", ".join(_shape_text(t.shape) for t in flat)


def _count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def summary_markdown(model) -> str:
    """A Markdown table like ``model.summary()``: layer, type, output shape, parameters."""
    lines = [
        f"# Model: {model.name}",
        "",
        "| Layer | Type | Output shape | Param # |",
        "| --- | --- | --- | ---: |",
    ]
    for layer in model.layers:
        cells = [
            layer.name,
            type(layer).__name__,
            _output_shapes(layer),
            f"{_count(layer.weights):,}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    lines += [
        "",
        f"- **Total params:** {trainable + non_trainable:,}",
        f"- **Trainable params:** {trainable:,}",
        f"- **Non-trainable params:** {non_trainable:,}",
        "",
    ]
    return "\n".join(lines)


# ===================================================================== converter errors
_OP_PATTERNS = (
    re.compile(r"\btf\.([A-Z]\w*)"),  # TFLite/MLIR: tf.Erfinv(tensor<...>)
    re.compile(r"Unsupported ops?:?\s*Counter\(\{([^}]*)\}\)"),  # tf2onnx
    re.compile(r"[Oo]p type not supported:?\s*'?(\w+)"),
    re.compile(r"No (?:conversion|handler) for op:?\s*'?(\w+)"),
)
_PATH = re.compile(r"[\w.\-]+(?:/[\w.\-]+)+")


def find_ops(text: str) -> list[str]:
    """Op names a converter's message names, in order of first mention."""
    ops: list[str] = []
    for pattern in _OP_PATTERNS:
        for m in pattern.finditer(text):
            for name in re.findall(r"'?(\w+)'?(?::\s*\d+)?", m.group(1)):
                if name and not name.isdigit() and name not in ops:
                    ops.append(name)
    return ops


def find_layer(text: str, layer_names: list[str], model_name: str | None = None) -> str | None:
    """The first layer named as a segment of a tf op path (``model/conv2d/Conv2D``)."""
    names = set(layer_names)
    for m in _PATH.finditer(text):
        for segment in m.group(0).split("/"):
            if segment in names and segment != model_name:
                return segment
    for name in sorted(names, key=len, reverse=True):  # quoted layer names: 'conv2d'
        if re.search(rf"['\"]{re.escape(name)}['\"]", text):
            return name
    return None


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def _relevant_line(text: str) -> str:
    for line in text.splitlines():
        low = line.lower()
        if "not supported" in low or "unsupported" in low or "error" in low:
            return line.strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def conversion_error(who: str, exc: BaseException, model=None) -> ExportError:
    """An :class:`ExportError` naming the layer/op a converter refused, from its message."""
    text = f"{exc}"
    layer_names = [layer.name for layer in model.layers] if model is not None else []
    ops = find_ops(text)
    layer = find_layer(text, layer_names, getattr(model, "name", None))
    if ops:
        what = "op" + ("s" if len(ops) > 1 else "") + " " + ", ".join(ops[:5])
        where = f" in layer '{layer}'" if layer else ""
        message = f"{who} does not support the {what}{where}."
    else:
        line = _relevant_line(text) or type(exc).__name__
        message = f"{who} failed" + (f" at layer '{layer}'" if layer else "") + f": {line}"
    return ExportError(message, layer)


# ===================================================================== atomic writes
def _atomic_file(target: Path, suffix: str, write: Callable[[str], None]) -> None:
    """``write(tmp)`` a temporary file beside ``target`` (ending in ``suffix``, which Keras
    checks), then move it over ``target``; on failure remove it and leave ``target``."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + (suffix or ""), dir=target.parent
    )
    os.close(fd)
    os.unlink(tmp)  # writers create the file themselves (h5py refuses an empty one)
    try:
        write(tmp)
        if not os.path.exists(tmp):
            raise ExportError(f"Nothing was written to {target}.")
        os.replace(tmp, target)
    except BaseException as exc:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (ExportError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, OSError):
            raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from None
        raise ExportError(f"Writing {target.name} failed: {_first_line(exc)}") from None


def _atomic_folder(target: Path, write: Callable[[str], None]) -> None:
    """``write(tmp)`` a temporary folder beside ``target``, then swap it in: an existing
    folder is moved aside, the new one renamed, and the old one deleted only then."""
    parent = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = os.path.join(parent, target.name)
    old: str | None = None
    try:
        write(tmp)
        if target.exists():
            old = os.path.join(parent, ".old")
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)
                old = None
            raise
    except BaseException as exc:
        if isinstance(exc, (ExportError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, OSError):
            raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from None
        raise ExportError(f"Writing {target.name} failed: {_first_line(exc)}") from None
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
