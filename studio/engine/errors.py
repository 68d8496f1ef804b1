"""Keras' error messages, rewritten into sentences a user of Studio understands."""

from __future__ import annotations

import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class TrainingError(Exception):
    """A training problem in plain words; ``where`` names the setting, node or input.

    Defined here, a module without Keras, so that code that runs before TensorFlow is
    imported (studio.engine.distributed) raises the trainer's own error."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return self.message


def shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")" if shape is not None else "?"


def _input_shapes(inputs: dict[str, list[Any]] | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for port, tensors in (inputs or {}).items():
        for t in tensors:
            out.append((port, getattr(t, "shape", None)))
    return out


def keras_message(exc: BaseException) -> str:
    """The useful core of a Keras exception: no ANSI colours, no call-context boilerplate."""
    text = _ANSI.sub("", str(exc)).strip()
    text = re.sub(r"^Exception encountered when calling [^\n]*\n+", "", text)
    text = text.split("\n\nArguments received by")[0]
    text = text.split("\nArguments received by")[0]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def explain(exc: BaseException, node, spec=None, inputs: dict[str, list[Any]] | None = None) -> str:
    """A plain sentence for ``exc`` raised while building or calling ``node``'s layer."""
    msg = keras_message(exc)
    kind = node.type
    shapes = _input_shapes(inputs)
    first = shapes[0][1] if shapes else None

    m = re.search(r"expected (min_)?ndim=(\d+), found ndim=(\d+)", msg)
    if m and first is not None:
        want, got = int(m.group(2)), int(m.group(3))
        hint = " Add a Flatten or GlobalPooling layer before it." if got > want else (
            " Add a Reshape layer before it to give the tensor the dimensions it needs."
        )
        or_more = ", or more," if m.group(1) else ""
        return (
            f"{kind} expects a {want}-D input{or_more} (batch included) but receives "
            f"{shape_text(first)}, which is {got}-D.{hint}"
        )
    if "requires inputs with matching shapes except for the concat" in msg or (
        kind == "Concatenate" and "shape" in msg.lower()
    ):
        listed = ", ".join(shape_text(s) for _, s in shapes)
        axis = node.params.get("axis", -1)
        return (
            f"Concatenate needs inputs whose shapes match except along axis {axis}; "
            f"it receives {listed}."
        )
    if kind in {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"} and (
        "incompatible" in msg.lower() or "shape" in msg.lower()
    ):
        listed = ", ".join(shape_text(s) for _, s in shapes)
        return f"{kind} needs inputs of the same shape (or broadcastable); it receives {listed}."
    if "negative" in msg.lower() and ("size" in msg.lower() or "dimension" in msg.lower()):
        return (
            f"The output of {kind} would have a negative size: its input {shape_text(first)} is "
            "smaller than the kernel or pool window. Use padding='same', a smaller window, or "
            "fewer pooling steps before it."
        )
    if "total size of the tensor must be unchanged" in msg or (
        kind == "Reshape" and "size" in msg.lower()
    ):
        target = node.params.get("target_shape")
        return (
            f"Reshape cannot turn {shape_text(first)} into {target}: the number of values "
            "must stay the same."
        )
    if isinstance(exc, TypeError) and "argument" in msg:
        return f"Keras refused a parameter of {kind}: {msg}"
    return msg
