"""How good a trained model is, on the held-out test split.

For every model output: a classification output gets a confusion matrix, per-class precision
and recall and a grid of sample predictions (mistakes first); a regression output gets its
predicted and true values for a scatter and residuals, with MAE and RMSE. Results are plain
lists and numbers (``docs/training.md``), so they go into ``evaluation.json`` and over a pipe.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: How many sample predictions the grid shows, and how many regression points are kept.
SAMPLES = 32
POINTS = 2000


def evaluate_model(
    model, prepared, inputs: list[str], outputs: list[str], batch_size: int = 32
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """``(test metrics, per-output results)`` of ``model`` on ``prepared``'s test split."""
    x, y = prepared.test
    xs = x[inputs[0]] if len(inputs) == 1 else [x[n] for n in inputs]
    if isinstance(model.output, dict):  # named outputs: matched by name, not position
        ys = {n: y[n] for n in outputs}
    else:
        ys = y[outputs[0]] if len(outputs) == 1 else [y[n] for n in outputs]
    metrics = model.evaluate(xs, ys, batch_size=batch_size, verbose=0, return_dict=True)
    test = {k: float(v) for k, v in metrics.items()}
    predictions = model.predict(xs, batch_size=batch_size, verbose=0)
    if isinstance(predictions, dict):
        predictions = [predictions[n] for n in outputs]
    elif len(outputs) == 1:
        predictions = [predictions]
    results = []
    for name, pred in zip(outputs, predictions):
        task = prepared.tasks.get(name, "regression")
        classes = prepared.classes.get(name)
        raw = prepared.raw_test.get(inputs[0]) if len(inputs) == 1 else None
        if task in ("classification", "binary"):
            results.append(classification(name, y[name], np.asarray(pred), classes, raw))
        else:
            results.append(regression(name, y[name], np.asarray(pred)))
    return test, results


def _labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true class ids, predicted class ids, confidence) from targets and model outputs."""
    y_true = np.asarray(y_true)
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:  # one sigmoid unit
        p = y_pred.reshape(-1).astype("float64")
        pred = (p >= 0.5).astype(int)
        conf = np.where(pred == 1, p, 1 - p)
        if y_true.ndim <= 2 or y_true.size == p.size:  # per sample, or per pixel (masks)
            true = y_true.reshape(-1).astype(int)
        else:
            true = y_true.argmax(-1)
        return true, pred, conf
    probs = y_pred.reshape(len(y_pred), -1)
    pred = probs.argmax(-1)
    conf = probs.max(-1)
    if y_true.ndim >= 2 and y_true.shape[-1] == probs.shape[-1] and y_true.shape[-1] > 1:
        true = y_true.reshape(len(y_true), -1).argmax(-1)
    else:
        true = y_true.reshape(-1).astype(int)
    return true, pred, conf


def classification(
    name: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str] | None,
    raw: np.ndarray | None = None,
) -> dict[str, Any]:
    true, pred, conf = _labels(y_true, y_pred)
    if len(true) != len(y_pred):  # one prediction per pixel: no sample images
        raw = None
    n = max(
        len(classes or []),
        int(true.max(initial=0)) + 1,
        int(pred.max(initial=0)) + 1,
        y_pred.shape[-1] if y_pred.ndim > 1 and y_pred.shape[-1] > 1 else 2,
    )
    names = list(classes or []) + [str(i) for i in range(len(classes or []), n)]
    confusion = np.zeros((n, n), dtype=int)
    np.add.at(confusion, (true, pred), 1)
    tp = np.diag(confusion).astype(float)
    predicted = confusion.sum(0)
    support = confusion.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    order = np.lexsort((-conf, true == pred))  # mistakes first, most confident first
    samples = []
    for i in order[:SAMPLES]:
        sample: dict[str, Any] = {
            "image": None,
            "text": None,
            "true": names[true[i]],
            "pred": names[pred[i]],
            "confidence": float(conf[i]),
            "correct": bool(true[i] == pred[i]),
        }
        if raw is not None and i < len(raw):
            item = raw[i]
            if isinstance(item, (str, bytes)):
                sample["text"] = item.decode() if isinstance(item, bytes) else item
            else:
                arr = np.asarray(item)
                if arr.ndim in (2, 3) and arr.shape[0] > 1 and arr.shape[1] > 1:
                    sample["image"] = _image(arr)
        samples.append(sample)
    return {
        "output": name,
        "task": "classification",
        "classes": names,
        "confusion": confusion.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "support": support.tolist(),
        "accuracy": float(tp.sum() / max(1, confusion.sum())),
        "samples": samples,
    }


def _image(arr: np.ndarray) -> list:
    """An image as 0..255 integers (lists, for JSON), whatever its original range."""
    a = arr.astype("float64")
    hi = float(a.max()) if a.size else 0.0
    if float(a.min(initial=0)) < 0:  # standardised: stretch to the full range
        lo = float(a.min())
        a = (a - lo) / max(hi - lo, 1e-9) * 255
    elif hi <= 1.0:
        a = a * 255
    elif hi <= 16.0:  # scikit-learn's digits
        a = a * (255 / 16)
    return np.clip(np.round(a), 0, 255).astype(int).tolist()


def regression(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    t = np.asarray(y_true, dtype="float64").reshape(-1)
    p = np.asarray(y_pred, dtype="float64").reshape(-1)
    if len(t) != len(p):  # several values per sample: compare them all
        m = min(len(t), len(p))
        t, p = t[:m], p[:m]
    err = p - t
    keep = np.linspace(0, len(t) - 1, min(len(t), POINTS)).astype(int) if len(t) else []
    return {
        "output": name,
        "task": "regression",
        "y_true": t[keep].tolist(),
        "y_pred": p[keep].tolist(),
        "mae": float(np.abs(err).mean()) if len(err) else math.nan,
        "rmse": float(np.sqrt((err**2).mean())) if len(err) else math.nan,
    }
