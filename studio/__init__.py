"""Studio: build, train and export Keras neural networks visually.

Importing :mod:`studio` imports neither Qt nor TensorFlow.
"""

__version__ = "0.1.0"
