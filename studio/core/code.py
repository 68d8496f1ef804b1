"""Custom layers, losses and metrics written as Python code in the project.

Pure Python: this module reads the user's source with :mod:`ast` and never executes it (no
Qt, no TensorFlow). Running the code is :mod:`studio.engine.custom`'s job, and only once the
project is trusted (``Graph.trusted_code``).

A project's code definitions live on its root graph (``Graph.code``), keyed by the name the
source defines. Each one is a :class:`CodeDef`:

* ``kind == "layer"``: a ``keras.layers.Layer`` subclass. The layer is the **last top-level
  class that defines a ``call`` method** (other classes may be helpers). Its node type is
  ``"custom.<ClassName>"``; its ports come from ``call``'s signature and its parameters from
  ``__init__``'s (:func:`layer_spec`).
* ``kind == "loss"``: the **last top-level function** taking ``(y_true, y_pred)``.
* ``kind == "metric"``: the last top-level ``keras.metrics.Metric`` subclass (a class with
  ``update_state`` and ``result``) if there is one, else the last top-level function of
  ``(y_true, y_pred)``.

Training settings name a custom loss or metric as ``"custom.<name>"``.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from studio.catalog import Catalog, LayerSpec, ParamSpec, PortSpec, load_catalog

KINDS = ("layer", "loss", "metric")
CUSTOM_PREFIX = "custom."
CUSTOM_CATEGORY = "Custom"
CUSTOM_MODULE = "studio.custom"
#: ``call`` arguments that are never tensor ports.
CALL_FLAGS = ("training", "mask")


@dataclass(frozen=True)
class CodeDef:
    """One piece of user code: ``name`` is the class/function it defines."""

    name: str
    kind: str  # "layer" | "loss" | "metric"
    source: str


@dataclass(frozen=True)
class CodeProblem:
    """A problem in a source: 1-based ``line`` and ``column`` (column 1 when unknown)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# The seed's CustomLayer and custom_loss (formatted as ruff formats). Keras 3's
# ``tf.keras.losses`` has no ``mean_squared_error`` (only ``mse``/``MSE``), so the loss calls
# ``tf.keras.losses.mse``.
STARTERS: dict[str, str] = {
    "layer": """\
import tensorflow as tf
from tensorflow.keras import layers


class CustomLayer(layers.Layer):
    def __init__(self, units=32):
        super(CustomLayer, self).__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b
""",
    "loss": """\
import keras
import tensorflow as tf


def custom_loss(y_true, y_pred):
    mse = keras.losses.mean_squared_error(y_true, y_pred)
    penalty = tf.reduce_mean(tf.square(y_pred))
    return mse + 0.01 * penalty
""",
    "metric": '''\
import tensorflow as tf


def mean_abs_percentage(y_true, y_pred):
    """Mean absolute error relative to the size of the target, in percent."""
    y_true = tf.cast(y_true, y_pred.dtype)
    diff = tf.abs(y_true - y_pred) / tf.maximum(tf.abs(y_true), 1e-7)
    return 100.0 * tf.reduce_mean(diff, axis=-1)
''',
}


def custom_type(name: str) -> str:
    """The node type (or training-settings name) of a definition: ``"custom.<name>"``."""
    return CUSTOM_PREFIX + name


def is_custom_type(type_: str) -> bool:
    return isinstance(type_, str) and type_.startswith(CUSTOM_PREFIX)


# ===================================================================== reading the source
def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _layer_class(tree: ast.Module) -> ast.ClassDef | None:
    found = None
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and "call" in _methods(stmt):
            found = stmt
    return found


def _metric_class(tree: ast.Module) -> ast.ClassDef | None:
    found = None
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and {"update_state", "result"} <= set(_methods(stmt)):
            found = stmt
    return found


def _function(tree: ast.Module) -> ast.FunctionDef | None:
    found = None
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            found = stmt
    return found


def _definition(tree: ast.Module, kind: str) -> ast.ClassDef | ast.FunctionDef | None:
    if kind == "layer":
        return _layer_class(tree)
    if kind == "metric":
        return _metric_class(tree) or _function(tree)
    if kind == "loss":
        return _function(tree)
    return None


def defined_name(source: str, kind: str) -> str | None:
    """The class (layer, class metric) or function (loss, metric) the source defines, or
    None when it does not parse or defines none."""
    tree = _parse(source)
    if tree is None:
        return None
    found = _definition(tree, kind)
    return found.name if found is not None else None


def check_source(source: str, kind: str) -> list[CodeProblem]:
    """Syntax and structure problems of a source, without running any of it.

    Syntax errors come from :func:`compile` (which also catches ``return`` outside a
    function and the like; compiling runs nothing). Structure: a layer defines a class with a
    ``call`` method that has a base class; a loss a function of ``(y_true, y_pred)``; a
    metric either such a function or a class with ``update_state`` and ``result``.
    """
    if kind not in KINDS:
        return [CodeProblem(1, 1, f"Unknown kind of code {kind!r}: use one of {', '.join(KINDS)}.")]
    try:
        compile(source, "<studio code>", "exec", dont_inherit=True)
    except SyntaxError as e:
        line = e.lineno or 1
        column = e.offset or 1
        msg = e.msg or "invalid syntax"
        return [CodeProblem(line, max(1, column), f"SyntaxError: {msg}")]
    except ValueError as e:  # null bytes
        return [CodeProblem(1, 1, f"The source cannot be read: {e}.")]
    tree = ast.parse(source)
    problems: list[CodeProblem] = []
    if kind == "layer":
        cls = _layer_class(tree)
        if cls is None:
            problems.append(
                CodeProblem(
                    _last_line(source),
                    1,
                    "A custom layer must define a class (a keras.layers.Layer subclass) "
                    "with a call method.",
                )
            )
            return problems
        if not cls.bases:
            problems.append(
                CodeProblem(
                    cls.lineno,
                    cls.col_offset + 1,
                    f"Class {cls.name} must subclass keras.layers.Layer.",
                )
            )
        call = _methods(cls)["call"]
        if not _inputs_of(call):
            problems.append(
                CodeProblem(
                    call.lineno,
                    call.col_offset + 1,
                    f"{cls.name}.call must take the input tensor after self "
                    "(def call(self, inputs)).",
                )
            )
        return problems
    if kind == "metric" and _metric_class(tree) is not None:
        return problems
    fn = _function(tree)
    what = "loss" if kind == "loss" else "metric"
    if fn is None:
        extra = " (or a keras.metrics.Metric subclass)" if kind == "metric" else ""
        problems.append(
            CodeProblem(
                _last_line(source),
                1,
                f"A custom {what} must define a function of (y_true, y_pred){extra}.",
            )
        )
        return problems
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    required = len(positional) - len(a.defaults)
    if (len(positional) < 2 and a.vararg is None) or required > 2:
        problems.append(
            CodeProblem(
                fn.lineno,
                fn.col_offset + 1,
                f"The {what} {fn.name} must take two arguments, (y_true, y_pred).",
            )
        )
    return problems


def _last_line(source: str) -> int:
    return max(1, len(source.splitlines()))


# ===================================================================== layer specs
def _literal(node: ast.expr | None) -> tuple[bool, Any]:
    if node is None:
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "int_list"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return "float_list"
    return "any"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr | None]]:
    """Positional (after ``self``) and keyword-only arguments with their default nodes."""
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(
        a.defaults
    )
    out = list(zip((p.arg for p in positional), defaults, strict=True))[1:]
    out += [(p.arg, d) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    return out


def _inputs_of(call: ast.FunctionDef | ast.AsyncFunctionDef) -> list[PortSpec]:
    a = call.args
    positional = [*a.posonlyargs, *a.args][1:]
    n_required = len(positional) + 1 - len(a.defaults)
    ports = []
    for i, p in enumerate(positional, start=1):
        if p.arg in CALL_FLAGS:
            continue
        if i >= n_required:
            d = a.defaults[i - n_required]
            if not (isinstance(d, ast.Constant) and d.value is None):
                continue  # a constant argument: a call parameter
            ports.append(PortSpec(p.arg, optional=True))
        else:
            ports.append(PortSpec(p.arg))
    if a.vararg is not None:
        ports.append(PortSpec(a.vararg.arg, variadic=True))
    return ports


def _call_params(call: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ParamSpec]:
    ports = {p.name for p in _inputs_of(call)}
    params = []
    for name, default in _arguments(call):
        if name in ports:
            continue
        if name in CALL_FLAGS:
            kind = "bool" if name == "training" else "any"
            params.append(ParamSpec(name, kind, None, nullable=True))
            continue
        ok, value = _literal(default)
        if default is None:
            continue  # a required tensor argument: a port
        params.append(
            ParamSpec(name, _kind_of(value) if ok else "any", _jsonable(value), nullable=True)
        )
    return params


def _init_params(init: ast.FunctionDef | ast.AsyncFunctionDef | None) -> list[ParamSpec]:
    if init is None:
        return []
    params = []
    for name, default in _arguments(init):
        if default is None:
            params.append(ParamSpec(name, "any", None, required=True))
            continue
        ok, value = _literal(default)
        if not ok:
            params.append(
                ParamSpec(
                    name,
                    "any",
                    None,
                    nullable=True,
                    doc=f"Default: {ast.unparse(default)} (left to the class).",
                )
            )
            continue
        params.append(ParamSpec(name, _kind_of(value), _jsonable(value), nullable=value is None))
    return params


def _fallback_spec(code: CodeDef, why: str) -> LayerSpec:
    return LayerSpec(
        type=custom_type(code.name),
        module=CUSTOM_MODULE,
        class_name=code.name,
        category=CUSTOM_CATEGORY,
        description=why,
        inputs=(PortSpec("inputs"),),
        outputs=("output",),
        params=(),
    )


def layer_spec(code: CodeDef) -> LayerSpec:
    """The catalog entry of a custom layer, read from its source (nothing runs).

    Ports: ``call``'s arguments after ``self`` without a default (a default of ``None``
    makes an optional port; ``*args`` one variadic port); ``training``, ``mask`` and
    arguments with other defaults are call parameters. Parameters: ``__init__``'s arguments
    after ``self``; a literal default gives the default and the kind (int, float, bool, str,
    int_list, float_list, else any); no default makes the parameter required (kind any).
    A source that does not parse gives one ``inputs`` port and no parameters.
    """
    tree = _parse(code.source)
    cls = _layer_class(tree) if tree is not None else None
    if cls is None:
        return _fallback_spec(code, "The code of this layer has a problem.")
    methods = _methods(cls)
    params = _init_params(methods.get("__init__"))
    call = methods["call"]
    inputs = _inputs_of(call) or [PortSpec("inputs")]
    doc = ast.get_docstring(cls) or ""
    return LayerSpec(
        type=custom_type(code.name),
        module=CUSTOM_MODULE,
        class_name=code.name,
        category=CUSTOM_CATEGORY,
        description=doc.strip() or f"Custom layer {code.name} (written in the project).",
        inputs=tuple(inputs),
        outputs=("output",),
        params=tuple(params),
        call_params=tuple(_call_params(call)),
        defaults={p.name: p.default for p in params if not p.required and p.default is not None},
        common=True,
    )


def init_accepts_kwargs(code: CodeDef) -> bool:
    """True when the layer's ``__init__`` takes ``**kwargs`` (so Keras can pass ``name=``).
    A class without its own ``__init__`` inherits ``Layer.__init__``, which does."""
    tree = _parse(code.source)
    cls = _layer_class(tree) if tree is not None else None
    if cls is None:
        return True
    init = _methods(cls).get("__init__")
    return init is None or init.args.kwarg is not None


def defines_class(code: CodeDef) -> bool:
    """True when the definition is a class (a layer, or a keras.metrics.Metric subclass)."""
    tree = _parse(code.source)
    found = _definition(tree, code.kind) if tree is not None else None
    return isinstance(found, ast.ClassDef)


# ===================================================================== the graph's code
def root_code(graph: Any) -> dict[str, CodeDef]:
    """The code definitions of a graph (empty for graphs without any)."""
    return getattr(graph, "code", None) or {}


def code_fingerprint(graph: Any) -> str:
    """sha256 (hex) over the graph's code definitions (kind, name, source, sorted by name):
    the identity trust is recorded against."""
    items = sorted(
        ([c.name, c.kind, c.source] for c in root_code(graph).values()), key=lambda x: x[0]
    )
    data = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def code_problems(graph: Any) -> dict[str, list[CodeProblem]]:
    """The problems of each code definition that has some, by name."""
    out = {}
    for name, code in root_code(graph).items():
        problems = check_source(code.source, code.kind)
        if not problems and defined_name(code.source, code.kind) != name:
            problems = [
                CodeProblem(
                    1,
                    1,
                    f"The code is stored as {name!r} but defines "
                    f"{defined_name(code.source, code.kind)!r}.",
                )
            ]
        if problems:
            out[name] = problems
    return out


def custom_names(graph: Any, kind: str) -> list[str]:
    """The names of the graph's definitions of one kind, in order."""
    return [c.name for c in root_code(graph).values() if c.kind == kind]


_OVERLAYS: dict[tuple[int, str], Catalog] = {}


def catalog_for(graph: Any, base: Catalog | None = None) -> Catalog:
    """The catalog with the graph's custom layers added (``custom.<Name>``, category
    "Custom"). Without custom layers it is ``base`` itself. Cached by fingerprint."""
    if base is None:
        base = load_catalog()
    layers = [c for c in root_code(graph).values() if c.kind == "layer"]
    if not layers:
        return base
    key = (id(base), code_fingerprint(graph))
    cached = _OVERLAYS.get(key)
    if cached is not None:
        return cached
    overlay = copy.copy(base)
    overlay.layers = dict(base.layers)
    for code in layers:
        spec = layer_spec(code)
        overlay.layers[spec.type] = spec
    if len(_OVERLAYS) > 32:
        _OVERLAYS.clear()
    _OVERLAYS[key] = overlay
    return overlay
