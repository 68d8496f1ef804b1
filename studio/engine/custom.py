"""Running the project's own code: custom layers, losses and metrics.

:func:`load_code` executes a graph's code definitions (:mod:`studio.core.code`) **only when
the graph is trusted** (``graph.trusted_code``); otherwise it raises :class:`UntrustedCode`.
Each definition runs in its own module namespace, compiled with the file name
``<studio code NAME>`` so that tracebacks (and :func:`user_line`) point at the user's lines.
The results are cached by the code's fingerprint, so editing anything but the code never runs
it again.

What is registered with Keras (package ``studio_custom``), so saved ``.keras`` files reload:

* the layer class, the loss function, the metric function or class;
* a layer class whose ``__init__`` takes no ``**kwargs`` (as in ``super().__init__()`` without
  arguments) cannot receive ``name=``, ``trainable=`` or ``dtype=`` from Keras: Studio gives it
  a ``from_config`` that constructs it with the ``__init__`` arguments only and sets the name
  (and trainability) afterwards, and a ``get_config`` that keeps the name.

Errors raised inside user code are turned into sentences naming the definition and the
user's line: ``"CustomLayer, line 14: NameError: name 'foo' is not defined"``
(:func:`code_message`).
"""

from __future__ import annotations

import inspect
import linecache
import re
import types
from typing import Any

from studio.core.code import CodeDef, code_fingerprint, root_code
from studio.engine import EngineError, load_keras

keras = load_keras()

PACKAGE = "studio_custom"
FILENAME = "<studio code {name}>"
_FILE_RE = re.compile(r'File "<studio code ([A-Za-z_][A-Za-z_0-9]*)>", line (\d+)')
_NOT_TRUSTED = (
    "The project's code is not trusted yet: Studio runs a project's custom layers, losses "
    "and metrics only after you trust the project."
)


class UntrustedCode(EngineError):
    """Code would have to run, but the project is not trusted."""

    def __init__(self, message: str = _NOT_TRUSTED, node: str | None = None) -> None:
        super().__init__(message, node)


class CodeError(EngineError):
    """An exception inside user code: ``name`` (the definition), ``line`` (1-based, in its
    source, or None), ``detail`` (``"NameError: ..."``); ``message`` is the full sentence."""

    def __init__(self, name: str, line: int | None, detail: str, node: str | None = None) -> None:
        self.name = name
        self.line = line
        self.detail = detail
        where = f"{name}, line {line}" if line else name
        super().__init__(f"{where}: {detail}", node)


# The objects of the code loaded last (what ``custom.<Name>`` node types resolve to), and the
# cache of every fingerprint loaded.
_ACTIVE: dict[str, Any] = {}
_LOADED: dict[str, dict[str, Any]] = {}


def filename(name: str) -> str:
    return FILENAME.format(name=name)


def load_code(graph) -> dict[str, Any]:
    """Run the graph's code definitions (once per fingerprint) and return ``{name: object}``
    (the class or function each defines). Raises :class:`UntrustedCode` when the graph is
    not trusted and :class:`CodeError` for a definition that fails to run."""
    code = root_code(graph)
    if not code:
        return {}
    if not getattr(graph, "trusted_code", False):
        raise UntrustedCode()
    key = code_fingerprint(graph)
    objects = _LOADED.get(key)
    if objects is None:
        objects = {}
        for definition in code.values():
            objects[definition.name] = _run(definition)
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = objects
    _activate(objects)
    return dict(objects)


def _activate(objects: dict[str, Any]) -> None:
    _ACTIVE.clear()
    _ACTIVE.update(objects)
    for name, obj in objects.items():
        # Re-register: another fingerprint may have registered the same name since.
        keras.saving.get_custom_objects()[f"{PACKAGE}>{name}"] = obj


def custom_objects(graph) -> dict[str, Any]:
    """``custom_objects`` for ``keras.saving.load_model`` (plain and registered names)."""
    objects = load_code(graph)
    out = dict(objects)
    out.update({f"{PACKAGE}>{k}": v for k, v in objects.items()})
    return out


def active_class(name: str):
    """The layer class ``custom.<name>`` resolves to (after :func:`load_code`)."""
    obj = _ACTIVE.get(name)
    if obj is None:
        raise EngineError(f"The custom layer {name} is not loaded: the project's code has not run.")
    return obj


def _run(definition: CodeDef) -> Any:
    from studio.core.code import check_source, defined_name

    name = definition.name
    problems = check_source(definition.source, definition.kind)
    if problems:
        p = problems[0]
        raise CodeError(name, p.line, p.message)
    fname = filename(name)
    linecache.cache[fname] = (
        len(definition.source),
        None,
        definition.source.splitlines(keepends=True),
        fname,
    )
    module = types.ModuleType(f"{PACKAGE}.{name}")
    module.__file__ = fname
    try:
        compiled = compile(definition.source, fname, "exec", dont_inherit=True)
        exec(compiled, module.__dict__)  # noqa: S102 - the user's trusted code
    except Exception as exc:
        raise _code_error(exc, name) from exc
    target = defined_name(definition.source, definition.kind)
    obj = module.__dict__.get(target or name)
    if obj is None:
        raise CodeError(name, None, f"The code does not define {target or name}.")
    if definition.kind == "layer":
        if not (isinstance(obj, type) and issubclass(obj, keras.layers.Layer)):
            raise CodeError(name, None, f"{obj.__name__} is not a keras.layers.Layer subclass.")
        _fix_naming(obj)
    elif definition.kind == "metric" and isinstance(obj, type):
        if not issubclass(obj, keras.metrics.Metric):
            raise CodeError(name, None, f"{obj.__name__} is not a keras.metrics.Metric subclass.")
    try:
        keras.saving.register_keras_serializable(package=PACKAGE, name=name)(obj)
    except Exception:  # a name Keras refuses: loading saved models will need custom_objects
        pass
    return obj


def _accepts(cls: type) -> tuple[set[str], bool]:
    params = inspect.signature(cls.__init__).parameters
    kwargs = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    return set(params) - {"self"}, kwargs


def _fix_naming(cls: type) -> None:
    """Give a layer class whose ``__init__`` takes no ``**kwargs`` a ``from_config`` that
    sets ``name``/``trainable`` after construction, and a ``get_config`` that keeps the name."""
    accepted, kwargs = _accepts(cls)
    if kwargs:
        return
    base_from = keras.layers.Layer.from_config.__func__
    if getattr(cls.from_config, "__func__", None) is base_from:

        def from_config(klass, config):
            config = dict(config)
            later = {k: config.pop(k) for k in ("name", "trainable") if k in config}
            if "dtype" in config and "dtype" not in accepted:
                config.pop("dtype")
            layer = klass(**{k: v for k, v in config.items() if k in accepted})
            if later.get("name") and "name" not in accepted:
                layer.name = later["name"]
            if "trainable" in later and "trainable" not in accepted:
                layer.trainable = later["trainable"]
            return layer

        cls.from_config = classmethod(from_config)
    original = cls.get_config

    def get_config(self):
        config = original(self)
        if isinstance(config, dict) and "name" not in config:
            config = {"name": self.name, **config}
        return config

    get_config._studio_named = True  # type: ignore[attr-defined]
    if not getattr(original, "_studio_named", False):
        # Keep Keras' "does the subclass implement get_config" test answering as before.
        if getattr(original, "_is_default", False):
            get_config._is_default = True  # type: ignore[attr-defined]
        cls.get_config = get_config


def make_custom_layer(cls: type, config: dict[str, Any]):
    """A custom layer from a node's config (``name`` included): ``from_config``, which the
    naming fix above makes work for classes without ``**kwargs``."""
    return cls.from_config(config)


# ===================================================================== errors
def _frames(exc: BaseException):
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def user_line(exc: BaseException, graph=None) -> tuple[str, int] | None:
    """``(definition name, line)`` of the innermost frame of user code in ``exc``'s traceback
    (or its causes), else from a TensorFlow message quoting ``File "<studio code X>", line N``;
    None when the error did not come from user code. ``graph`` restricts names to its code."""
    names = set(root_code(graph)) if graph is not None else None
    for e in _frames(exc):
        found = None
        tb = e.__traceback__
        while tb is not None:
            m = re.fullmatch(
                r"<studio code ([A-Za-z_][A-Za-z_0-9]*)>", tb.tb_frame.f_code.co_filename
            )
            if m and (names is None or m.group(1) in names):
                found = (m.group(1), tb.tb_lineno)
            tb = tb.tb_next
        if found:
            return found
        if isinstance(e, SyntaxError) and e.filename:
            m = re.fullmatch(r"<studio code ([A-Za-z_][A-Za-z_0-9]*)>", e.filename)
            if m:
                return m.group(1), e.lineno or 1
        hits = [
            (m.group(1), int(m.group(2)))
            for m in _FILE_RE.finditer(str(e))
            if names is None or m.group(1) in names
        ]
        if hits:
            return hits[-1]
    return None


def _detail(exc: BaseException) -> str:
    from studio.engine.errors import keras_message

    text = keras_message(exc)
    # TensorFlow's "in user code:" reports: keep the last line, the error itself.
    if 'File "<studio code' in text or "in user code:" in text:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        text = lines[-1].strip() if lines else text
    m = re.search(r"Error encountered:\s*(.+)$", text, re.S)
    if m:  # Keras' "Could not automatically infer the output shape ..." wrapper
        text = m.group(1).strip()
    base = _root_exception(exc)
    name = type(base).__name__
    if text.startswith(name + ":"):
        return text
    return f"{name}: {text}"


def _root_exception(exc: BaseException) -> BaseException:
    """The exception raised in user code (Keras re-raises it as the same type; TensorFlow
    wraps it, keeping the original as the cause or context)."""
    for e in _frames(exc):
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.startswith("<studio code "):
                return e
            tb = tb.tb_next
    return exc


def _code_error(exc: BaseException, name: str | None = None, graph=None, node=None) -> CodeError:
    where = user_line(exc, graph)
    if where is None and name is not None:
        where = (name, None)
    base = _root_exception(exc)
    return CodeError(where[0], where[1], _detail(base), node)


def code_message(exc: BaseException, graph=None) -> str | None:
    """``"CustomLayer, line 14: NameError: name 'foo' is not defined"`` when ``exc`` was
    raised in user code, else None."""
    if isinstance(exc, CodeError):
        return exc.message
    if user_line(exc, graph) is None:
        return None
    return _code_error(exc, graph=graph).message


def as_code_error(exc: BaseException, graph=None, node: str | None = None) -> CodeError | None:
    """A :class:`CodeError` (attached to ``node``) when ``exc`` came from user code."""
    if isinstance(exc, CodeError):
        if node is not None and exc.node is None:
            return CodeError(exc.name, exc.line, exc.detail, node)
        return exc
    if user_line(exc, graph) is None:
        return None
    return _code_error(exc, graph=graph, node=node)
