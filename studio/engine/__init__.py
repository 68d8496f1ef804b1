"""The engine: the only package that imports TensorFlow/Keras.

Importing :mod:`studio.engine` itself is cheap; the submodules (``build``, ``shapes``,
``importer``, ``weights``) import Keras, through :func:`load_keras`, when they are first
imported, which the GUI does in a background thread.
"""

from __future__ import annotations

import os
import sys
import tempfile

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class EngineError(Exception):
    """A failure in Keras, rewritten for a user: ``node`` names the node it belongs to."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node

    def __str__(self) -> str:
        return f"{self.node}: {self.message}" if self.node else self.message


def load_keras():
    """Import Keras (and TensorFlow) once, keeping TensorFlow's native start-up logging
    (CUDA probes, oneDNN notices) off the user's terminal unless the import fails."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        import keras

        return keras
    if os.environ.get("STUDIO_TF_LOGS"):
        import keras

        return keras
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (a windowed app): nothing to hide
        import keras

        return keras
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        os.dup2(log.fileno(), 2)
        try:
            import keras
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras


def versions() -> str:
    """``"TensorFlow 2.21.0, Keras 3.15.1"`` (imports them)."""
    keras = load_keras()
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"


def about() -> dict:
    """What Help > About shows of the engine: ``{"tensorflow", "keras", "devices"}``, the
    devices as ``"GPU:0 (NVIDIA H100 80GB HBM3)"`` lines (imports TensorFlow)."""
    keras = load_keras()
    import tensorflow as tf

    devices = []
    for device in tf.config.list_physical_devices():
        name = device.name.removeprefix("/physical_device:")
        try:
            detail = tf.config.experimental.get_device_details(device).get("device_name")
        except Exception:  # noqa: BLE001 - details are optional
            detail = None
        devices.append(f"{name} ({detail})" if detail else name)
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "devices": devices}
