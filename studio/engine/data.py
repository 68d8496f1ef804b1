"""Training data: sources, splits, preprocessing, ``tf.data`` pipelines, previews and checks.

The settings this module reads are ``settings["data"]`` as described in docs/training.md. The
work happens in three steps:

1. :func:`load_source` turns a source spec (``{"kind": "csv", "path": ...}``) into a
   :class:`Dataset`: named numpy arrays ("fields") of equal length, class names for label
   fields and a one-line description.
2. :func:`prepare` loads the source, shuffles it once with the seed, takes the test and then
   the validation split, preprocesses every model input (pad, text, scale, normalize,
   reshape; the adapted layers see the training split only), encodes every target and
   checks both against the model's shapes. The result, a :class:`Prepared`, makes the
   ``tf.data`` pipelines the trainer fits on.
3. :func:`preview` does the same on a sample of the data and reports, as plain picklable
   data, what the data panel shows: fields, a few rows, an image grid, class balance and a
   check per model input and output.

Every problem with the data is a :class:`DataError` with a sentence for the user and, in
``where``, the setting, model input/output or file line it concerns.

Split layout: after the optional shuffle, the test part is counted first (a fraction of all
samples) and then validation (also a fraction of all samples); the samples are laid out
``[train | validation | test]``, so with shuffling off the test part is the *last* samples,
as Keras' own ``validation_split`` does and as time series need.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.engine import load_keras
from studio.resources import resource_path

keras = load_keras()

Progress = Callable[[float, str], None]
Arrays = dict[str, np.ndarray]

SPLITS = ("train", "validation", "test")
MAX_CATEGORIES = 20  # a CSV column with at most this many distinct values can be categorical
PREVIEW_SAMPLES = 2000  # preview() preprocesses at most this many samples per split
DEFAULT_MAX_TOKENS = 10000
DEFAULT_NUM_WORDS = 10000  # imdb/reuters vocabulary when the source does not say
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Where keras.datasets come from (module globals, so tests can point them elsewhere).
KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"


def _no_progress(fraction: float, text: str) -> None:
    pass


class DataError(Exception):
    """Bad data, with a sentence for the user.

    ``where`` names the place: a setting (``"data.source.path"``), a model input or output
    (``"input 'image'"``) or a file with its line and column.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # keep ``where`` when the error crosses a process boundary
        return (type(self), (self.message, self.where))


class _Mismatch(DataError):
    """A DataError about a shape, carrying the shape the data has (``got``, per sample)."""

    def __init__(self, message: str, where: str | None = None, got: tuple | None = None):
        super().__init__(message, where)
        self.got = got

    def __reduce__(self):
        return (type(self), (self.message, self.where, self.got))


# ---------------------------------------------------------------------------------------------
# Datasets


@dataclass
class Dataset:
    """One loaded source, not yet split or preprocessed.

    ``fields`` are arrays of the same length N (strings and ragged integer lists as object
    arrays); ``classes`` names the classes of label fields; ``test`` is a built-in test split
    (``keras.datasets``); ``schema`` records how a CSV's columns were read, so that a
    separate validation or test file is read the same way.
    """

    fields: dict[str, np.ndarray]
    classes: dict[str, list[str]]
    description: str
    test: Dataset | None = None
    schema: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {name: len(a) for name, a in self.fields.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name} {n:,}" for name, n in lengths.items())
            raise DataError(
                f"The fields of the data have different lengths ({listed}); every field "
                "needs one entry per sample."
            )

    def __len__(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0


def load_source(
    spec: dict, base_dir: Path | None = None, progress: Progress | None = None
) -> Dataset:
    """Load one data source (a ``data.source`` spec) into a :class:`Dataset`.

    Relative paths resolve against ``base_dir`` (the project file's folder). ``progress`` is
    called with ``(fraction, text)`` while files download or folders are read.
    """
    return _load(spec, base_dir, progress or _no_progress, "data.source")


def _load(
    spec: Any,
    base_dir: Path | None,
    progress: Progress,
    setting: str,
    like: Dataset | None = None,
) -> Dataset:
    if not isinstance(spec, dict) or not spec.get("kind"):
        raise DataError("Choose where the data comes from.", where=f"{setting}.kind")
    kind = spec["kind"]
    loader = _LOADERS.get(kind)
    if loader is None:
        raise DataError(
            f"Unknown kind of data source '{kind}'. The kinds are: {', '.join(_LOADERS)}.",
            where=f"{setting}.kind",
        )
    return loader(spec, Path(base_dir) if base_dir is not None else None, progress, setting, like)


def _resolve(value: Any, base_dir: Path | None, setting: str) -> Path:
    if not value:
        raise DataError("Choose a file or folder for the data.", where=setting)
    path = Path(str(value)).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def _existing_file(value: Any, base_dir: Path | None, setting: str) -> Path:
    path = _resolve(value, base_dir, setting)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file.", where=setting)
    if not path.is_file():
        raise DataError(f"The file {path} does not exist.", where=setting)
    return path


def _existing_folder(value: Any, base_dir: Path | None, setting: str) -> Path:
    path = _resolve(value, base_dir, setting)
    if not path.exists():
        raise DataError(f"The folder {path} does not exist.", where=setting)
    if not path.is_dir():
        raise DataError(f"{path} is a file, not a folder of class subfolders.", where=setting)
    return path


def _strings(values) -> np.ndarray:
    """An object array of Python strings (bytes decoded as UTF-8)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return out


def _ragged(sequences) -> np.ndarray:
    """An object array of integer lists of different lengths."""
    out = np.empty(len(sequences), dtype=object)
    for i, s in enumerate(sequences):
        out[i] = list(s)
    return out


def _is_text(a: np.ndarray) -> bool:
    if a.dtype.kind in "US":
        return True
    return a.dtype == object and len(a) > 0 and isinstance(a.flat[0], str | bytes)


def _is_ragged(a: np.ndarray) -> bool:
    return a.dtype == object and len(a) > 0 and isinstance(a.flat[0], list | tuple | np.ndarray)


def _guess_classes(a: np.ndarray) -> list[str] | None:
    """Class names "0".."k-1" for an integer array that looks like labels, else None."""
    if a.dtype.kind not in "iub" or a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
        return None
    if a.size == 0 or a.min() < 0:
        return None
    top = int(a.max())
    if top >= 100 or len(np.unique(a)) > 100:
        return None
    return [str(i) for i in range(top + 1)]


# --- bundled ---------------------------------------------------------------------------------


def _load_bundled(spec, base_dir, progress, setting, like) -> Dataset:
    name = spec.get("name")
    if name == "digits":
        return _digits(spec.get("image_size", 8), bool(spec.get("flatten", False)), setting)
    if name in ("iris", "wine", "breast_cancer"):
        return _sklearn_table(name)
    if name == "reviews":
        path = resource_path("datasets", "reviews.csv")
        spec = {"path": str(path), "target": "label", "column_types": {"text": "text"}}
        ds = _load_csv(spec, None, progress, setting, like)
        ds.description = (
            f"Product reviews (bundled): {len(ds):,} short texts, "
            f"{len(ds.classes['label'])} classes ({', '.join(ds.classes['label'])})"
        )
        return ds
    from studio.generated_data import GENERATORS

    if name in GENERATORS:  # multi_io and the templates' datasets
        return _generated(name)
    names = "digits, iris, wine, breast_cancer, reviews, " + ", ".join(GENERATORS)
    raise DataError(
        f"There is no bundled dataset '{name}'. The bundled datasets are: {names}.",
        where=f"{setting}.name",
    )


def _image_side(value: Any, setting: str) -> int:
    if isinstance(value, list | tuple) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    if value not in (8, 28) or isinstance(value, bool):
        raise DataError(
            "The digits come as 8x8 images or upscaled to 28x28: image_size must be 8 or 28.",
            where=f"{setting}.image_size",
        )
    return int(value)


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (N, h, w, c) images; values stay within the input's range."""
    out = keras.ops.image.resize(
        images.astype("float32"), size, interpolation="bilinear", antialias=False
    )
    out = np.asarray(keras.ops.convert_to_numpy(out), dtype="float32")
    return np.clip(out, images.min(), images.max())


def _digits(image_size: Any, flatten: bool, setting: str) -> Dataset:
    from sklearn.datasets import load_digits

    side = _image_side(image_size, setting)
    bunch = load_digits()
    images = bunch.images.astype("float32")[..., None]  # (N, 8, 8, 1) in 0..16
    if side != 8:
        images = _resize(images, (side, side))
    shape = "8x8 images" if side == 8 else f"8x8 images upscaled to {side}x{side}"
    if flatten:
        images = images.reshape(len(images), -1)
        shape += f" flattened to {images.shape[1]} values"
    classes = [str(c) for c in bunch.target_names]
    return Dataset(
        fields={"image": images, "label": bunch.target.astype("int32")},
        classes={"label": classes},
        description=f"scikit-learn digits: {len(images):,} {shape}, {len(classes)} classes",
    )


_SKLEARN_TITLES = {"iris": "iris", "wine": "wine", "breast_cancer": "breast cancer"}


def _sklearn_table(name: str) -> Dataset:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    features = np.asarray(bunch.data, dtype="float32")
    classes = [str(c) for c in bunch.target_names]
    return Dataset(
        fields={"features": features, "label": np.asarray(bunch.target, dtype="int32")},
        classes={"label": classes},
        description=(
            f"scikit-learn {_SKLEARN_TITLES[name]}: {len(features):,} samples, "
            f"{features.shape[1]} features, {len(classes)} classes"
        ),
    )


def _generated(name: str) -> Dataset:
    """A dataset Studio generates (studio/generated_data.py): multi_io and the templates'."""
    from studio.generated_data import GENERATORS

    fields, classes, description = GENERATORS[name]()
    return Dataset(fields=fields, classes=classes, description=description)


# --- csv -------------------------------------------------------------------------------------

_COLUMN_TYPES = ("numeric", "categorical", "text")


def _delimiter(value: Any, sample: str) -> str:
    if value in ("tab", "\\t"):
        return "\t"
    if value:
        return str(value)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path, delimiter: Any, setting: str):
    """``(header, rows, line numbers)``; rows all have the header's length."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name} is not UTF-8 text (byte {exc.start} cannot be read). Save it as "
            "UTF-8 CSV.",
            where=f"{setting}.path",
        ) from None
    except OSError as exc:
        raise DataError(
            f"Could not read {path}: {exc.strerror}.", where=f"{setting}.path"
        ) from None
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(delimiter, text[:65536])
    )
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                _check_header(header, path, setting)
                continue
            if len(row) != len(header):
                raise DataError(
                    f"Line {reader.line_num} of {path.name} has {len(row)} values but the "
                    f"header has {len(header)} columns.",
                    where=f"{path.name}, line {reader.line_num}",
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(
            f"Line {reader.line_num} of {path.name} is not valid CSV: {exc}.",
            where=f"{path.name}, line {reader.line_num}",
        ) from None
    if header is None:
        raise DataError(f"The file {path.name} is empty.", where=f"{setting}.path")
    if not rows:
        raise DataError(
            f"The file {path.name} has a header but no rows of data.", where=f"{setting}.path"
        )
    return header, rows, lines


def _check_header(header: list[str], path: Path, setting: str) -> None:
    if any(not name for name in header):
        col = header.index("") + 1
        raise DataError(
            f"Column {col} of {path.name} has no name in the header (the first line).",
            where=f"{path.name}, line 1",
        )
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(
                f"The header of {path.name} names the column '{name}' twice.",
                where=f"{path.name}, line 1",
            )
        seen.add(name)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _not_a_number(path: Path, line: int, column: str, value: str, mostly: bool) -> DataError:
    place = f"Line {line} of {path.name}, column '{column}',"
    if not value.strip():
        message = (
            f"{place} is empty. Fill in the missing values, or leave the column out of "
            "data.source.features."
        )
    else:
        reason = " although the rest of the column is numbers" if mostly else ""
        message = (
            f"{place} has '{value}', which is not a number{reason}. Fix the value, or set "
            "the column's type in data.source.column_types."
        )
    return DataError(message, where=f"{path.name}, line {line}, column '{column}'")


def _column_type(values: list[str], path: Path, lines: list[int], column: str) -> str:
    """Auto-detect a column: numbers, few distinct values (categorical) or text."""
    bad = [i for i, v in enumerate(values) if _number(v) is None]
    if not bad:
        return "numeric"
    if len(bad) < len(values) / 2:  # mostly numbers: a typo, not a text column
        i = bad[0]
        raise _not_a_number(path, lines[i], column, values[i], mostly=True)
    distinct = {v.strip() for v in values}
    if len(distinct) <= MAX_CATEGORIES and len(distinct) < len(values) / 2:
        return "categorical"
    return "text"


def _numbers(values: list[str], path: Path, lines: list[int], column: str) -> np.ndarray:
    out = np.empty(len(values), dtype="float64")
    for i, v in enumerate(values):
        x = _number(v)
        if x is None:
            raise _not_a_number(path, lines[i], column, v, mostly=False)
        out[i] = x
    return out


def _category_ids(
    values: list[str], names: list[str], path: Path, lines: list[int], column: str
) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    ids = np.empty(len(values), dtype="int32")
    for i, v in enumerate(values):
        k = index.get(v.strip())
        if k is None:
            raise DataError(
                f"Line {lines[i]} of {path.name}, column '{column}', has '{v}', a value the "
                f"training data does not have (it has: {', '.join(names)}).",
                where=f"{path.name}, line {lines[i]}, column '{column}'",
            )
        ids[i] = k
    return ids


def _load_csv(spec, base_dir, progress, setting, like) -> Dataset:
    path = _existing_file(spec.get("path"), base_dir, f"{setting}.path")
    header, rows, lines = _read_csv(path, spec.get("delimiter"), setting)
    reference = like.schema if like is not None and like.schema.get("kind") == "csv" else {}

    def missing(column: str, key: str) -> DataError:
        return DataError(
            f"The file {path.name} has no column '{column}'. Its columns are: {', '.join(header)}.",
            where=f"{setting}.{key}",
        )

    target = spec.get("target") or None
    if target is not None and target not in header:
        raise missing(target, "target")
    features = spec.get("features") or [c for c in header if c != target]
    for column in features:
        if column not in header:
            raise missing(column, "features")
    if target in features:
        raise DataError(
            f"The column '{target}' is the target, so it cannot be a feature as well.",
            where=f"{setting}.features",
        )
    overrides = dict(spec.get("column_types") or {})
    for column, kind in overrides.items():
        if column not in header:
            raise missing(column, "column_types")
        if kind not in _COLUMN_TYPES:
            raise DataError(
                f"The type of column '{column}' must be numeric, categorical or text, not "
                f"'{kind}'.",
                where=f"{setting}.column_types",
            )

    def values(column: str) -> list[str]:
        i = header.index(column)
        return [row[i] for row in rows]

    types: dict[str, str] = {}
    categories: dict[str, list[str]] = {}
    blocks: list[np.ndarray] = []
    feature_names: list[str] = []
    fields: dict[str, np.ndarray] = {}
    for column in features:
        vals = values(column)
        kind = (
            overrides.get(column)
            or reference.get("types", {}).get(column)
            or _column_type(vals, path, lines, column)
        )
        types[column] = kind
        if kind == "numeric":
            blocks.append(_numbers(vals, path, lines, column)[:, None])
            feature_names.append(column)
        elif kind == "categorical":
            names = reference.get("categories", {}).get(column) or sorted({v.strip() for v in vals})
            categories[column] = names
            ids = _category_ids(vals, names, path, lines, column)
            blocks.append(np.eye(len(names), dtype="float64")[ids])
            feature_names += [f"{column}={name}" for name in names]
        else:
            if column in ("features", target):
                raise DataError(
                    f"The text column '{column}' clashes with the field of the same name: "
                    "rename the column.",
                    where=f"{setting}.features",
                )
            fields[column] = _strings(vals)
    if blocks:
        fields = {"features": np.concatenate(blocks, axis=1).astype("float32")} | fields

    classes: dict[str, list[str]] = {}
    target_text = ""
    if target is not None:
        vals = values(target)
        kind = overrides.get(target) or reference.get("target_type")
        if kind is None:
            kind = "numeric" if all(_number(v) is not None for v in vals) else "categorical"
        types[target] = kind
        if kind == "numeric":
            numbers = _numbers(vals, path, lines, target)
            names = _integer_classes(numbers)
            if names is not None:
                fields[target] = numbers.astype("int32")
                classes[target] = names
                target_text = f"target '{target}' (class ids 0..{len(names) - 1})"
            else:
                fields[target] = numbers.astype("float32")
                target_text = f"target '{target}' (numbers)"
        else:
            if kind == "categorical" and _all_numbers(vals):
                # numeric class labels: order them as numbers, not as strings ("2" < "10")
                names = [_label_text(x) for x in sorted({float(v) for v in vals})]
                vals = [_label_text(float(v)) for v in vals]
            else:
                names = sorted({v.strip() for v in vals})
            names = reference.get("classes") or names
            fields[target] = _category_ids(vals, names, path, lines, target)
            classes[target] = names
            target_text = f"target '{target}' ({len(names)} classes)"

    counts = {k: sum(1 for c in features if types[c] == k) for k in _COLUMN_TYPES}
    parts = [f"{path.name}: {len(rows):,} rows"]
    if blocks:
        parts.append(
            f"{counts['numeric']} numeric and {counts['categorical']} categorical feature "
            f"columns ({len(feature_names)} values)"
        )
    texts = [c for c in features if types[c] == "text"]
    if texts:
        parts.append("text: " + ", ".join(f"'{c}'" for c in texts))
    if target_text:
        parts.append(target_text)
    schema = {
        "kind": "csv",
        "types": {c: types[c] for c in features},
        "categories": categories,
        "feature_names": feature_names,
        "target": target,
        "target_type": types.get(target),
        "classes": classes.get(target),
    }
    return Dataset(fields, classes, ", ".join(parts), schema=schema)


def _all_numbers(values: list[str]) -> bool:
    return all(_number(v) is not None for v in values)


def _label_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _integer_classes(numbers: np.ndarray) -> list[str] | None:
    """Class names "0".."k-1" when the numbers are small whole numbers from 0, else None."""
    if not np.all(numbers == np.round(numbers)) or numbers.min() < 0:
        return None
    top = int(numbers.max())
    if top >= MAX_CATEGORIES or len(np.unique(numbers)) > MAX_CATEGORIES:
        return None
    return [str(i) for i in range(top + 1)]


# --- npz / npy -------------------------------------------------------------------------------


def _array_fields(arrays: dict[str, np.ndarray], source: str) -> Dataset:
    fields: dict[str, np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    for name, a in arrays.items():
        if a.ndim == 0:
            raise DataError(
                f"The array '{name}' in {source} is a single value, not one entry per sample."
            )
        if a.dtype.kind in "US":
            a = _strings(a.tolist())
        fields[name] = a
        names = _guess_classes(a)
        if names is not None:
            classes[name] = names
    if not fields:
        raise DataError(f"{source} holds no arrays.")
    lengths = {name: len(a) for name, a in fields.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"'{name}' {n:,}" for name, n in lengths.items())
        raise DataError(
            f"The arrays in {source} have different lengths ({listed}); every field needs "
            "one entry per sample."
        )
    shapes = ", ".join(f"{name} {_shape_text(a.shape[1:])}" for name, a in fields.items())
    description = f"{source}: {len(next(iter(fields.values()))):,} samples; {shapes}"
    return Dataset(fields, classes, description)


def _np_load(path: Path, setting: str):
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(
                f"{path.name} is not a plain NumPy file: it is another kind of file or holds "
                "pickled Python objects, which Studio does not load because they can run "
                "code. Save plain numeric or string arrays.",
                where=setting,
            ) from None
        raise DataError(f"{path.name} is not a NumPy file: {exc}", where=setting) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"Could not read {path.name}: {exc}", where=setting) from None


def _load_npz(spec, base_dir, progress, setting, like) -> Dataset:
    path = _existing_file(spec.get("path"), base_dir, f"{setting}.path")
    loaded = _np_load(path, f"{setting}.path")
    if isinstance(loaded, np.ndarray):
        raise DataError(
            f"{path.name} holds a single array; use the npy source kind for .npy files.",
            where=f"{setting}.kind",
        )
    try:
        with loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except ValueError as exc:  # an object array inside the archive
        raise DataError(
            f"{path.name} holds pickled Python objects (ragged lists or object arrays), which "
            "Studio does not load because they can run code. Save plain numeric or string "
            "arrays.",
            where=f"{setting}.path",
        ) from exc
    return _array_fields(arrays, path.name)


def _load_npy(spec, base_dir, progress, setting, like) -> Dataset:
    paths = spec.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise DataError(
            'Name a .npy file for each field, e.g. {"x": "x.npy", "y": "y.npy"}.',
            where=f"{setting}.paths",
        )
    arrays = {}
    for name, value in paths.items():
        where = f"{setting}.paths.{name}"
        path = _existing_file(value, base_dir, where)
        loaded = _np_load(path, where)
        if not isinstance(loaded, np.ndarray):
            loaded.close()
            raise DataError(
                f"{path.name} is an .npz archive; use the npz source kind for it.", where=where
            )
        arrays[name] = loaded
    return _array_fields(arrays, ", ".join(Path(str(p)).name for p in paths.values()))


# --- folders ---------------------------------------------------------------------------------


def _class_folders(folder: Path, setting: str) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(
            f"The folder {folder} has no class subfolders. Put each class's files in a "
            "subfolder named after the class (for example cats/ and dogs/).",
            where=f"{setting}.path",
        )
    return names


def _has_files(folder: Path, names: list[str], suffixes: tuple[str, ...]) -> bool:
    """Whether any class subfolder holds a file with one of ``suffixes`` (at any depth)."""
    return any(
        p.suffix.lower() in suffixes and p.is_file()
        for name in names
        for p in (folder / name).rglob("*")
    )


def _materialise(ds, progress: Progress, text: str) -> tuple[list, list]:
    """Every batch of a ``tf.data`` dataset of (x, label) as numpy arrays."""
    xs, ys = [], []
    total = int(ds.cardinality())
    for i, (x, y) in enumerate(ds):
        xs.append(x.numpy())
        ys.append(y.numpy())
        if total > 0:
            progress((i + 1) / total, text)
    return xs, ys


def _read_class_folders(
    folder: Path,
    setting: str,
    progress: Progress,
    read: Callable,
    *,
    suffixes: tuple[str, ...],
    files: str,
    noun: str,
    **options: Any,
) -> tuple[list, np.ndarray, list[str]]:
    """Read ``folder``, one subfolder of files per class, with ``read`` (a
    ``keras.utils.*_dataset_from_directory``, given ``options``): the batches of samples, the
    labels (int32) and the class names. ``files`` names the files with one of ``suffixes``
    ("text files (.txt)") and ``noun`` the samples ("texts") in progress and error messages."""
    names = _class_folders(folder, setting)
    if not _has_files(folder, names, suffixes):
        raise DataError(
            f"The folder {folder} has no {files} in its class subfolders ({', '.join(names)}).",
            where=f"{setting}.path",
        )
    try:
        ds = read(
            str(folder), labels="inferred", label_mode="int", shuffle=False, verbose=False,
            **options,
        )  # fmt: skip
        class_names = list(ds.class_names)
        batches, labels = _materialise(ds, progress, f"Reading {noun} from {folder.name}")
    except Exception as exc:  # an unreadable file, a Keras complaint about the folder
        raise DataError(
            f"Could not read the {noun} in {folder}: {_first_line(exc)}", where=f"{setting}.path"
        ) from None
    return batches, np.concatenate(labels).astype("int32"), class_names


def _load_image_folder(spec, base_dir, progress, setting, like) -> Dataset:
    folder = _existing_folder(spec.get("path"), base_dir, f"{setting}.path")
    size = spec.get("image_size") or [256, 256]
    if isinstance(size, int):
        size = [size, size]
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise DataError(
            "The image size must be two positive whole numbers [height, width].",
            where=f"{setting}.image_size",
        )
    color_mode = spec.get("color_mode") or "rgb"
    if color_mode not in ("rgb", "grayscale", "rgba"):
        raise DataError(
            f"The colour mode must be rgb, grayscale or rgba, not '{color_mode}'.",
            where=f"{setting}.color_mode",
        )
    images, y, class_names = _read_class_folders(
        folder, setting, progress, keras.utils.image_dataset_from_directory,
        suffixes=IMAGE_FORMATS, files=f"images ({', '.join(IMAGE_FORMATS)})", noun="images",
        color_mode=color_mode, batch_size=64, image_size=tuple(size),
    )  # fmt: skip
    x = np.concatenate(images).astype("float32")
    h, w = size
    return Dataset(
        fields={"image": x, "label": y},
        classes={"label": class_names},
        description=(
            f"{folder.name}: {len(x):,} images resized to {h}x{w} ({color_mode}), "
            f"{len(class_names)} classes ({_short_list(class_names)})"
        ),
    )


def _load_text_folder(spec, base_dir, progress, setting, like) -> Dataset:
    folder = _existing_folder(spec.get("path"), base_dir, f"{setting}.path")
    texts, y, class_names = _read_class_folders(
        folder, setting, progress, keras.utils.text_dataset_from_directory,
        suffixes=(".txt",), files="text files (.txt)", noun="texts", batch_size=256,
    )  # fmt: skip
    x = _strings([t for batch in texts for t in batch])
    return Dataset(
        fields={"text": x, "label": y},
        classes={"label": class_names},
        description=(
            f"{folder.name}: {len(x):,} texts, {len(class_names)} classes "
            f"({_short_list(class_names)})"
        ),
    )


# --- keras.datasets --------------------------------------------------------------------------

_FASHION = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_CIFAR10 = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
_CIFAR100 = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus "
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach "
    "couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house "
    "kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle "
    "mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck "
    "pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal "
    "shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower "
    "sweet_pepper table tank telephone television tiger tractor train trout tulip turtle "
    "wardrobe whale willow_tree wolf woman worm"
).split()


@dataclass(frozen=True)
class _Remote:
    """One file keras.datasets reads from its cache: where it lies under
    ``<keras home>/datasets`` and where it comes from (``base`` names a module global)."""

    cached: str
    base: str
    name: str
    sha256: str | None = None


# SHA-256 of the files, as keras.datasets checks them (Fashion-MNIST's are not checked).
_SHA256 = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "imdb.npz": "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    "reuters.npz": "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
    "boston_housing.npz": "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "cifar-100-python.tar.gz": "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
}
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def _gcs(name: str, cached: str | None = None) -> _Remote:
    return _Remote(cached or name, "KERAS_DATASETS_URL", name, _SHA256.get(name))


def _cifar(archive: str, cached: str) -> _Remote:
    # keras.datasets.cifar* ask get_file for "<dir>-target" with extract=True, which keeps
    # the downloaded archive as "<dir>-target_archive" and extracts it beside.
    return _Remote(cached, "CIFAR_URL", archive, _SHA256[archive])


# name: (title, the files its load_data() reads from the cache)
KERAS_SOURCES: dict[str, tuple[str, list[_Remote]]] = {
    "mnist": ("MNIST", [_gcs("mnist.npz")]),
    "fashion_mnist": (
        "Fashion-MNIST",
        [_gcs(name, f"fashion-mnist/{name}") for name in _FASHION_FILES],
    ),
    "cifar10": (
        "CIFAR-10",
        [_cifar("cifar-10-python.tar.gz", "cifar-10-batches-py-target_archive")],
    ),
    "cifar100": (
        "CIFAR-100",
        [_cifar("cifar-100-python.tar.gz", "cifar-100-python-target_archive")],
    ),
    "imdb": ("IMDB", [_gcs("imdb.npz")]),
    "reuters": ("Reuters", [_gcs("reuters.npz")]),
    "boston_housing": ("Boston Housing", [_gcs("boston_housing.npz")]),
}


def keras_cache_dir() -> Path:
    """``<keras home>/datasets``: ``$KERAS_HOME`` or ``~/.keras``, falling back to
    ``/tmp/.keras`` when that is not writable, as Keras itself does."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home) / "datasets"


def _display(path: Path) -> str:
    home = Path.home()
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, dest: Path, title: str, sha256: str | None, progress: Progress) -> None:
    """Fetch ``url`` into ``dest`` through a temporary file, so a broken download never
    leaves a half file where Keras would find it."""
    host = urllib.parse.urlsplit(url).hostname or url
    label = f"Downloading {url.rsplit('/', 1)[-1]}"
    cache = _display(keras_cache_dir())
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        progress(0.0, label)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(1 << 16):
                out.write(block)
                done += len(block)
                if total:
                    progress(min(done / total, 1.0), label)
        if sha256 is not None and _sha256(Path(tmp)) != sha256:
            raise DataError(
                f"The download of {title} from {host} was incomplete or damaged. Try again."
            )
        os.replace(tmp, dest)
        progress(1.0, label)
    except urllib.error.HTTPError as exc:
        raise DataError(
            f"Could not download {title} ({host} answered {exc.code} {exc.reason})."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException):
        raise DataError(
            f"Could not download {title} (no connection to {host}). Connect to the internet "
            f"once; after that it is cached in {cache}."
        ) from None
    except OSError as exc:
        raise DataError(f"Could not save {title} in {cache}: {exc.strerror or exc}.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fetch(name: str, progress: Progress) -> None:
    """Download what ``keras.datasets.<name>.load_data()`` needs unless Keras has it."""
    title, remotes = KERAS_SOURCES[name]
    cache = keras_cache_dir()
    for remote in remotes:
        dest = cache / remote.cached
        if not dest.is_file():
            url = globals()[remote.base] + remote.name
            _download(url, dest, title, remote.sha256, progress)


def _load_keras(spec, base_dir, progress, setting, like) -> Dataset:
    name = spec.get("name")
    if name not in KERAS_SOURCES:
        raise DataError(
            f"There is no Keras dataset '{name}'. They are: {', '.join(KERAS_SOURCES)}.",
            where=f"{setting}.name",
        )
    title = KERAS_SOURCES[name][0]
    _fetch(name, progress)
    progress(1.0, f"Reading {title}")
    module = getattr(keras.datasets, name)
    num_words = spec.get("num_words", DEFAULT_NUM_WORDS)
    try:
        if name in ("imdb", "reuters"):
            (x, y), (xt, yt) = module.load_data(num_words=num_words)
        else:
            (x, y), (xt, yt) = module.load_data()
    except Exception as exc:
        raise DataError(
            f"Could not read {title} from Keras' cache in {_display(keras_cache_dir())} "
            f"({_first_line(exc)}). Delete its files there to download them again."
        ) from None

    def dataset(x, y, part: str, test: Dataset | None = None) -> Dataset:
        n = len(x)
        if name in ("imdb", "reuters"):
            classes = (
                ["negative", "positive"]
                if name == "imdb"
                else list(keras.datasets.reuters.get_label_names())
            )
            fields = {"sequence": _ragged(x), "label": np.asarray(y, "int32").reshape(-1)}
            words = "all words" if num_words is None else f"the {num_words:,} most common words"
            text = f"{n:,} sequences of word ids ({words}), {len(classes)} classes"
        elif name == "boston_housing":
            classes = []
            fields = {"features": np.asarray(x, "float32"), "target": np.asarray(y, "float32")}
            text = f"{n:,} samples, {x.shape[1]} features, a price target"
        else:
            classes = {
                "mnist": [str(i) for i in range(10)],
                "fashion_mnist": _FASHION,
                "cifar10": _CIFAR10,
                "cifar100": _CIFAR100,
            }[name]
            images = x[..., None] if x.ndim == 3 else x
            fields = {"image": images, "label": np.asarray(y, "int32").reshape(-1)}
            h, w, c = images.shape[1:]
            text = f"{n:,} {h}x{w}x{c} images, {len(classes)} classes"
        return Dataset(
            fields,
            {"label": list(classes)} if classes else {},
            f"Keras {title} ({part}): {text}",
            test=test,
        )

    return dataset(x, y, "training split", test=dataset(xt, yt, "test split"))


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "bundled": _load_bundled,
    "csv": _load_csv,
    "npz": _load_npz,
    "npy": _load_npy,
    "image_folder": _load_image_folder,
    "text_folder": _load_text_folder,
    "keras": _load_keras,
}


# ---------------------------------------------------------------------------------------------
# Splits


@dataclass
class _Splits:
    """The source and its train/validation/test parts (field arrays; None when absent)."""

    source: Dataset
    parts: dict[str, Arrays | None]
    where: dict[str, str]  # "the data", "the validation source", ... for messages

    def head(self, n: int) -> _Splits:
        parts = {
            k: None if p is None else {f: a[:n] for f, a in p.items()}
            for k, p in self.parts.items()
        }
        return _Splits(self.source, parts, self.where)

    def sizes(self) -> dict[str, int]:
        return {
            k: 0 if p is None else len(next(iter(p.values()), ())) for k, p in self.parts.items()
        }


def _fraction(value: Any, setting: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise DataError(
            f"A split is a fraction of the samples from 0 up to 1 (0.2 is 20 %), not {value!r}.",
            where=setting,
        )
    return float(value)


def _count(n: int, fraction: float) -> int:
    return 0 if fraction == 0 else max(1, int(round(n * fraction)))


def _take(fields: Arrays, index) -> Arrays:
    return {name: a[index] for name, a in fields.items()}


def _aligned(main: Dataset, other: Dataset, what: str) -> Arrays:
    """``other``'s fields with class ids renumbered to ``main``'s class lists by name."""
    fields = dict(other.fields)
    for name, names in other.classes.items():
        reference = main.classes.get(name)
        if reference is None or reference == names or name not in fields:
            continue
        extra = [c for c in names if c not in reference]
        if extra:
            raise DataError(
                f"The {what} has classes the training data does not have in field '{name}': "
                f"{_short_list(extra)}."
            )
        mapping = np.array([reference.index(c) for c in names], dtype="int32")
        fields[name] = mapping[np.asarray(fields[name], dtype="int64")]
    return fields


def _split(data: dict, base_dir: Path | None, progress: Progress, source: Dataset) -> _Splits:
    n = len(source)
    if n == 0:
        raise DataError("The data source has no samples.", where="data.source")
    shuffle = data.get("shuffle", True)
    order = np.random.default_rng(data.get("seed")).permutation(n) if shuffle else None
    fields = _take(source.fields, order) if order is not None else dict(source.fields)

    parts: dict[str, Arrays | None] = {}
    where = {"train": "the data", "validation": "the data", "test": "the data"}
    counts = {}
    for split in ("test", "validation"):
        spec = data.get(split) or {"split": 0}
        setting = f"data.{split}"
        if not isinstance(spec, dict):
            raise DataError(f"The {split} setting is not understood: {spec!r}.", where=setting)
        if spec.get("source"):
            other = _load(spec["source"], base_dir, progress, f"{setting}.source", like=source)
            parts[split] = _aligned(source, other, f"{split} source")
            where[split] = f"the {split} source"
            counts[split] = 0
        elif spec.get("builtin"):
            if split != "test" or source.test is None:
                raise DataError(
                    f"This data source has no built-in {split} split: use a fraction of the "
                    "data or a separate source.",
                    where=setting,
                )
            parts[split] = _aligned(source, source.test, f"built-in {split} split")
            where[split] = f"the built-in {split} split"
            counts[split] = 0
        else:
            counts[split] = _count(n, _fraction(spec.get("split", 0), f"{setting}.split"))
    n_test, n_val = counts["test"], counts["validation"]
    if n_test + n_val >= n:
        raise DataError(
            f"The validation and test splits take all {n:,} samples and leave none to train "
            "on: make them smaller.",
            where="data.validation.split",
        )
    n_train = n - n_val - n_test
    parts["train"] = _take(fields, slice(0, n_train))
    if "validation" not in parts:
        parts["validation"] = _take(fields, slice(n_train, n_train + n_val)) if n_val else None
    if "test" not in parts:
        parts["test"] = _take(fields, slice(n - n_test, n)) if n_test else None
    return _Splits(source, {k: parts[k] for k in SPLITS}, where)


# ---------------------------------------------------------------------------------------------
# Preprocessing and targets


def _shape_text(shape) -> str:
    return str(tuple(None if d is None else int(d) for d in shape))


def _fits(got: tuple, expected: tuple) -> bool:
    return len(got) == len(expected) and all(e is None or g == e for g, e in zip(got, expected))


def _mapping(data: dict, role: str, name: str) -> dict:
    section = "inputs" if role == "input" else "outputs"
    mapping = (data.get(section) or {}).get(name)
    if isinstance(mapping, str):
        mapping = {"field": mapping}
    if not isinstance(mapping, dict) or not mapping.get("field"):
        raise DataError(
            f"{role.capitalize()} '{name}' has no data: choose the field that feeds it.",
            where=f"data.{section}.{name}.field",
        )
    return mapping


def _field_arrays(splits: _Splits, field_name: str, role: str, name: str) -> dict[str, Any]:
    section = "inputs" if role == "input" else "outputs"
    out = {}
    for split, part in splits.parts.items():
        if part is None:
            continue
        if field_name not in part:
            raise DataError(
                f"{role.capitalize()} '{name}' reads the field '{field_name}', which "
                f"{splits.where[split]} does not have. The fields are: "
                f"{', '.join(part) or 'none'}.",
                where=f"data.{section}.{name}.field",
            )
        out[split] = part[field_name]
    return out


def _options(value: Any, setting: str) -> dict:
    if value is True:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"The setting is not understood: {value!r}.", where=setting)
    return value


def _known_length(expected: tuple) -> int | None:
    return expected[0] if len(expected) == 1 and expected[0] is not None else None


def _in_chunks(fn, a, size: int = 4096) -> np.ndarray:
    return np.concatenate([fn(a[i : i + size]) for i in range(0, len(a), size)] or [fn(a[:0])])


def _preprocess_input(
    name: str, shape: tuple, mapping: dict, arrays: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict]:
    """Apply one input's preprocessing (pad, text, scale, normalize, reshape) to every split,
    fitting TextVectorization/Normalization on the training split; check the shape."""
    field_name = mapping["field"]
    expected = tuple(shape[1:])
    setting = f"data.inputs.{name}"
    where = f"input '{name}'"
    info: dict[str, Any] = {}

    if mapping.get("pad"):
        opts = _options(mapping["pad"], f"{setting}.pad")
        maxlen = opts.get("maxlen") or _known_length(expected)
        for split, a in arrays.items():
            if _is_text(np.asarray(a)):
                raise DataError(
                    f"Input '{name}': the field '{field_name}' holds text, and padding works "
                    "on sequences of token ids. Use text preprocessing instead.",
                    where=f"{setting}.pad",
                )
            try:
                arrays[split] = keras.utils.pad_sequences(
                    list(a),
                    maxlen=maxlen,
                    dtype="int32",
                    padding=opts.get("padding", "pre"),
                    truncating=opts.get("truncating", "pre"),
                    value=opts.get("value", 0),
                )
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"Input '{name}': the field '{field_name}' cannot be padded "
                    f"({_first_line(exc)}).",
                    where=f"{setting}.pad",
                ) from None
        info["pad"] = {"maxlen": maxlen}

    if mapping.get("text"):
        opts = _options(mapping["text"], f"{setting}.text")
        if not all(_is_text(np.asarray(a)) for a in arrays.values()):
            raise DataError(
                f"Input '{name}' turns text into tokens, but the field '{field_name}' does not "
                "hold text.",
                where=f"{setting}.text",
            )
        mode = opts.get("output_mode", "int")
        length = opts.get("sequence_length") or _known_length(expected)
        if mode == "int" and not length:
            raise DataError(
                f"Input '{name}': set the sequence length the texts are cut or padded to.",
                where=f"{setting}.text.sequence_length",
            )
        try:
            layer = keras.layers.TextVectorization(
                max_tokens=opts.get("max_tokens") or DEFAULT_MAX_TOKENS,
                output_mode=mode,
                output_sequence_length=length if mode == "int" else None,
                standardize=opts.get("standardize", "lower_and_strip_punctuation"),
                ngrams=opts.get("ngrams"),
            )
            layer.adapt(_strings(arrays["train"]), batch_size=1024)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"Input '{name}': the text settings are not usable ({_first_line(exc)}).",
                where=f"{setting}.text",
            ) from None
        dtype = "int32" if mode == "int" else "float32"

        def vectorize(chunk, layer=layer, dtype=dtype):
            out = keras.ops.convert_to_numpy(layer(_strings(chunk)))
            return np.asarray(out, dtype=dtype)

        for split, a in arrays.items():
            arrays[split] = _in_chunks(vectorize, a)
        info["text"] = {"vocabulary": [str(w) for w in layer.get_vocabulary()]}

    for split, a in arrays.items():
        a = np.asarray(a)
        if _is_text(a):
            raise _Mismatch(
                f"Input '{name}': the field '{field_name}' holds text. Add text preprocessing "
                "to turn it into token ids.",
                where=where,
                got=(),
            )
        if a.dtype == object:
            raise _Mismatch(
                f"Input '{name}': the field '{field_name}' holds sequences of different "
                "lengths. Add padding to give them one length.",
                where=where,
                got=(None,),
            )
        arrays[split] = a

    scale = mapping.get("scale")
    if scale is not None and scale is not False:
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise DataError(f"The scale must be a number, not {scale!r}.", where=f"{setting}.scale")
        if scale != 1:
            for split, a in arrays.items():
                arrays[split] = a.astype("float32") * np.float32(scale)
        info["scale"] = float(scale)

    if mapping.get("normalize"):
        train = arrays["train"].astype("float32")
        layer = keras.layers.Normalization(axis=-1 if train.ndim > 1 else None)
        layer.adapt(train)

        def normalize(chunk, layer=layer):
            return np.asarray(keras.ops.convert_to_numpy(layer(chunk.astype("float32"))))

        for split, a in arrays.items():
            arrays[split] = _in_chunks(normalize, a).astype("float32")
        info["normalize"] = {
            "mean": np.asarray(keras.ops.convert_to_numpy(layer.mean)).reshape(-1).tolist(),
            "variance": np.asarray(keras.ops.convert_to_numpy(layer.variance)).reshape(-1).tolist(),
        }

    # Whole numbers per sample in at most one dimension (token ids, padded sequences,
    # integer features) stay int32; everything else, images included, becomes float32.
    for split, a in arrays.items():
        keep_int = a.dtype.kind in "iu" and a.ndim <= 2
        arrays[split] = a.astype("int32" if keep_int else "float32", copy=False)

    got = tuple(arrays["train"].shape[1:])
    if mapping.get("reshape") and not _fits(got, expected):
        target = _reshape_target(got, expected)
        if target is not None:
            for split, a in arrays.items():
                arrays[split] = a.reshape((len(a),) + target)
            got = target
            info["reshape"] = list(expected)
    if not _fits(got, expected):
        hint = ""
        if not mapping.get("reshape") and _reshape_target(got, expected) is not None:
            hint = " The sizes agree: turn on reshape to reshape the samples."
        raise _Mismatch(
            f"Input '{name}' expects samples of shape {_shape_text(expected)} but field "
            f"'{field_name}' of the data has shape {_shape_text(got)}.{hint}",
            where=where,
            got=got,
        )
    return arrays, info


def _reshape_target(got: tuple, expected: tuple) -> tuple | None:
    """``expected`` with a single unknown dimension filled in, when ``got`` fits into it."""
    size = int(np.prod(got)) if got else 1
    unknown = [i for i, d in enumerate(expected) if d is None]
    known = int(np.prod([d for d in expected if d is not None])) if expected else 1
    if len(unknown) > 1 or known == 0:
        return None
    if not unknown:
        return tuple(expected) if known == size else None
    if size % known:
        return None
    filled = list(expected)
    filled[unknown[0]] = size // known
    return tuple(filled)


def _class_ids(
    name: str, field_name: str, arrays: dict[str, np.ndarray], names: list[str] | None, encoding
) -> tuple[dict[str, np.ndarray], list[str] | None]:
    """Whole, non-negative class ids for every split (text labels become ids)."""
    setting = f"data.outputs.{name}"
    if any(_is_text(np.asarray(a)) for a in arrays.values()):
        found = sorted({str(v) for a in arrays.values() for v in np.asarray(a).ravel()})
        names = names or found
        index = {c: i for i, c in enumerate(names)}
        out = {}
        for split, a in arrays.items():
            a = np.asarray(a)
            unknown = sorted({str(v) for v in a.ravel()} - index.keys())
            if unknown:
                raise DataError(
                    f"Output '{name}': the {split} split of field '{field_name}' has values "
                    f"that are not among its classes ({_short_list(names)}): "
                    f"{_short_list(unknown)}.",
                    where=f"{setting}.field",
                )
            flat = [index[str(v)] for v in a.ravel()]
            out[split] = np.asarray(flat, dtype="int64").reshape(a.shape)
        return out, names
    out = {}
    for split, a in arrays.items():
        a = np.asarray(a)
        if a.dtype == object:
            raise DataError(
                f"Output '{name}': the field '{field_name}' holds sequences of different lengths, "
                "which cannot be class ids.",
                where=setting,
            )
        if a.dtype.kind == "f":
            bad = a[~np.isfinite(a) | (a != np.round(a))]
            if bad.size:
                raise DataError(
                    f"Output '{name}' uses {encoding} encoding, so the field '{field_name}' must "
                    f"hold whole class ids, but it holds values such as {bad.flat[0]:g}. Use raw "
                    "encoding for numbers.",
                    where=f"{setting}.encoding",
                )
        elif a.dtype.kind not in "iub":
            raise DataError(
                f"Output '{name}': the field '{field_name}' does not hold class ids.",
                where=f"{setting}.field",
            )
        out[split] = a.astype("int64")
    lowest = min(int(a.min()) for a in out.values() if a.size)
    if lowest < 0:
        raise DataError(
            f"Output '{name}': the field '{field_name}' holds negative class ids ({lowest}); "
            "class ids count from 0.",
            where=f"{setting}.field",
        )
    return out, names


def _encode_target(
    name: str, shape: tuple, mapping: dict, arrays: dict[str, Any], names: list[str] | None
) -> tuple[dict[str, np.ndarray], list[str] | None, str]:
    """Encode one output's targets for every split; returns (arrays, classes, task)."""
    field_name = mapping["field"]
    expected = tuple(shape[1:])
    units = expected[-1] if expected else None
    setting = f"data.outputs.{name}"
    where = f"output '{name}'"
    text = any(_is_text(np.asarray(a)) for a in arrays.values())
    encoding = mapping.get("encoding") or ("sparse" if names or text else "raw")
    if encoding not in ("sparse", "onehot", "raw"):
        raise DataError(
            f"The encoding of output '{name}' must be sparse, onehot or raw, not '{encoding}'.",
            where=f"{setting}.encoding",
        )

    if encoding == "raw":
        if text:
            raise DataError(
                f"Output '{name}': the field '{field_name}' holds text. Choose sparse or "
                "one-hot encoding to turn its values into classes.",
                where=f"{setting}.encoding",
            )
        out = {}
        for split, a in arrays.items():
            a = np.asarray(a)
            if a.dtype == object:
                raise _Mismatch(
                    f"Output '{name}': the field '{field_name}' holds sequences of different "
                    "lengths.",
                    where=where,
                    got=(None,),
                )
            a = a.astype("float32")
            per = a.shape[1:]
            if not _fits(per, expected):
                if _fits(per + (1,), expected):
                    a = a[..., None]
                elif per[-1:] == (1,) and _fits(per[:-1], expected):
                    a = a[..., 0]
            out[split] = a
        got = tuple(out["train"].shape[1:])
        if not _fits(got, expected):
            raise _Mismatch(
                f"Output '{name}' expects targets of shape {_shape_text(expected)} but field "
                f"'{field_name}' of the data has shape {_shape_text(got)}.",
                where=where,
                got=got,
            )
        binary = units == 1 and all(np.isin(a, (0.0, 1.0)).all() for a in out.values())
        if binary:
            return out, names if names and len(names) == 2 else ["0", "1"], "binary"
        return out, None, "regression"

    ids, names = _class_ids(name, field_name, arrays, names, encoding)
    top = max((int(a.max()) for a in ids.values() if a.size), default=0)
    if names is not None and top >= len(names):
        unknown = [split for split, a in ids.items() if a.size and a.max() >= len(names)]
        raise DataError(
            f"Output '{name}': the {unknown[0]} split of field '{field_name}' has class ids "
            f"up to {top}, but the data names only {len(names)} classes.",
            where=f"{setting}.field",
        )

    if encoding == "sparse":
        out = {}
        for split, a in ids.items():
            per = a.shape[1:]
            if units == 1:  # one unit: binary targets of the output's own shape
                if _fits(per + (1,), expected):
                    a = a[..., None]
            elif expected and per[-1:] == (1,) and _fits(per[:-1], expected[:-1]):
                a = a[..., 0]  # (N, 1) class ids for a (None, k) output
            out[split] = a.astype("int32")
        got = tuple(out["train"].shape[1:])
        if units == 1 and _fits(got, expected):
            if top > 1:
                raise DataError(
                    f"Output '{name}' has 1 unit, which suits two classes, but field "
                    f"'{field_name}' has {max(top + 1, len(names or ()))} classes: give it "
                    f"{max(top + 1, len(names or ()))} units with a softmax activation.",
                    where=where,
                )
            return out, names or ["0", "1"], "binary"
        if not expected or not _fits(got, expected[:-1]):
            raise _Mismatch(
                f"Output '{name}' expects targets of shape {_shape_text(expected)}, i.e. class "
                f"ids of shape {_shape_text(expected[:-1])}, but field '{field_name}' of the "
                f"data has shape {_shape_text(got)}.",
                where=where,
                got=got,
            )
        if units is not None and top >= units:
            raise DataError(
                f"Output '{name}' has {units} units but field '{field_name}' has class ids up "
                f"to {top} ({top + 1} classes): give it {top + 1} units.",
                where=where,
            )
        count = units or top + 1
        return out, names or [str(i) for i in range(count)], "classification"

    # one-hot
    count = len(names) if names else (units if units else top + 1)
    if top >= count:
        raise DataError(
            f"Output '{name}' has {units} units but field '{field_name}' has class ids up to "
            f"{top} ({top + 1} classes): give it {top + 1} units.",
            where=where,
        )
    out = {}
    for split, a in ids.items():
        if a.ndim >= 2 and a.shape[-1] == 1:
            a = a[..., 0]
        out[split] = keras.utils.to_categorical(a, num_classes=count).astype("float32")
    got = tuple(out["train"].shape[1:])
    if not _fits(got, expected):
        raise _Mismatch(
            f"Output '{name}' expects targets of shape {_shape_text(expected)} but field "
            f"'{field_name}' one-hot encoded has shape {_shape_text(got)} ({count} classes).",
            where=where,
            got=got,
        )
    return out, names or [str(i) for i in range(count)], "classification"


# ---------------------------------------------------------------------------------------------
# prepare()


@dataclass
class Prepared:
    """Preprocessed data for one model, ready for ``fit``.

    Each split is ``(x by model input name, y by model output name)`` (float32/int32);
    ``raw_test`` holds the test inputs before preprocessing (images as stored, strings) for
    a sample-prediction grid. ``classes`` and ``tasks`` are per output name; ``task`` is
    ``"classification"``, ``"binary"`` or ``"regression"``. ``preprocessing`` records, per
    input, what was applied and learned (``{"text": {"vocabulary": [...]}, "normalize":
    {"mean": [...], "variance": [...]}, "scale": s, "pad": {...}, "reshape": [...]}``).
    """

    train: tuple[Arrays, Arrays]
    validation: tuple[Arrays, Arrays] | None
    test: tuple[Arrays, Arrays] | None
    raw_test: Arrays
    classes: dict[str, list[str] | None]
    tasks: dict[str, str]
    preprocessing: dict[str, dict] = field(default_factory=dict)

    def _pair(self, split: str) -> tuple[Arrays, Arrays] | None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
        return getattr(self, split)

    def samples(self, split: str) -> int:
        """How many samples ``split`` has (0 when there is no such split)."""
        pair = self._pair(split)
        if pair is None:
            return 0
        first = next(iter(pair[0].values()), None)
        if first is None:
            first = next(iter(pair[1].values()), ())
        return len(first)

    def dataset(
        self,
        split: str,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        cache: bool = True,
        prefetch: bool = True,
        *,
        model=None,
    ):
        """A ``tf.data.Dataset`` of ``(x dict, y dict)`` batches of ``split``.

        Keras matches dicts to a model's inputs and outputs by name, except where the model
        has a single input or output that is a plain tensor rather than a list or dict (what
        ``build_model`` makes for one output): ``fit`` then rejects a dict. Pass ``model`` to
        get such an x or y as the bare array instead.
        """
        import tensorflow as tf

        pair = self._pair(split)
        if pair is None:
            raise ValueError(f"There is no {split} split.")
        if model is not None:
            pair = (_like(pair[0], model.input), _like(pair[1], model.output))
        ds = tf.data.Dataset.from_tensor_slices(pair)
        if cache:
            ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(self.samples(split), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        if prefetch:
            ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds


def _like(values: Arrays, structure: Any) -> Any:
    """``values`` (by name) in the structure of a model's inputs or outputs."""
    if isinstance(structure, dict | list | tuple) or len(values) != 1:
        return values
    return next(iter(values.values()))


def _model_shape(shape: Any) -> tuple:
    return tuple(None if d is None else int(d) for d in shape)


def prepare(
    data: dict,
    inputs: dict[str, tuple],
    outputs: dict[str, tuple],
    base_dir: Path | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """Load, split, preprocess and check ``settings["data"]`` for a model whose inputs and
    outputs have the given Keras shapes (batch dimension first, ``None``).

    Raises :class:`DataError` for the first problem found.
    """
    progress = progress or _no_progress
    if not isinstance(data, dict):
        raise DataError("The project has no data settings.", where="data")
    progress(0.0, "Loading data")
    source = _load(data.get("source"), base_dir, progress, "data.source")
    splits = _split(data, base_dir, progress, source)
    present = [s for s in SPLITS if splits.parts[s] is not None]
    x: dict[str, Arrays] = {s: {} for s in present}
    y: dict[str, Arrays] = {s: {} for s in present}
    raw_test: Arrays = {}
    classes: dict[str, list[str] | None] = {}
    tasks: dict[str, str] = {}
    preprocessing: dict[str, dict] = {}
    steps = max(1, len(inputs) + len(outputs))

    for i, (name, shape) in enumerate(inputs.items()):
        progress(i / steps, f"Preparing input '{name}'")
        mapping = _mapping(data, "input", name)
        arrays = _field_arrays(splits, mapping["field"], "input", name)
        if "test" in arrays:
            raw_test[name] = arrays["test"]
        done, info = _preprocess_input(name, _model_shape(shape), mapping, dict(arrays))
        preprocessing[name] = info
        for split, a in done.items():
            x[split][name] = a

    for i, (name, shape) in enumerate(outputs.items()):
        progress((len(inputs) + i) / steps, f"Preparing output '{name}'")
        mapping = _mapping(data, "output", name)
        arrays = _field_arrays(splits, mapping["field"], "output", name)
        names = source.classes.get(mapping["field"])
        done, classes[name], tasks[name] = _encode_target(
            name, _model_shape(shape), mapping, dict(arrays), names
        )
        for split, a in done.items():
            y[split][name] = a

    progress(1.0, "Data ready")
    pairs = {s: (x[s], y[s]) for s in present}
    return Prepared(
        train=pairs["train"],
        validation=pairs.get("validation"),
        test=pairs.get("test"),
        raw_test=raw_test,
        classes=classes,
        tasks=tasks,
        preprocessing=preprocessing,
    )


# ---------------------------------------------------------------------------------------------
# preview()


def _field_kind(name: str, a: np.ndarray, classes: dict[str, list[str]]) -> str:
    if _is_text(a):
        return "text"
    if _is_ragged(a):
        return "sequence"
    if name in classes:
        return "labels"
    per = a.shape[1:]
    if len(per) == 3 and per[-1] in (1, 3, 4) and min(per[:2]) >= 4:
        return "image"
    if len(per) == 2 and min(per) >= 8:
        return "image"
    return "numbers"


def _sample_shape(a: np.ndarray) -> tuple:
    if _is_text(a):
        return ()
    if _is_ragged(a):
        return (None,)
    return tuple(int(d) for d in a.shape[1:])


def _dtype_text(a: np.ndarray) -> str:
    if _is_text(a):
        return "string"
    if _is_ragged(a):
        return "int sequence"
    return str(a.dtype)


def _number_text(x: Any) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.4g}"


def _cell(value: Any, kind: str, names: list[str] | None) -> str:
    if kind == "text":
        s = " ".join(str(value).split())
        return s if len(s) <= 60 else s[:59] + "…"
    if kind == "labels":
        i = int(np.asarray(value).reshape(-1)[0])
        return names[i] if names and 0 <= i < len(names) else str(i)
    if kind == "image":
        return "x".join(str(d) for d in np.shape(value)) + " image"
    if kind == "sequence":
        seq = list(value)
        head = ", ".join(str(int(v)) for v in seq[:5])
        return f"[{head}{', …' if len(seq) > 5 else ''}] ({len(seq)} ids)"
    flat = np.asarray(value).reshape(-1)
    if flat.size == 1:
        return _number_text(flat[0])
    head = ", ".join(_number_text(v) for v in flat[:5])
    return f"[{head}{', …' if flat.size > 5 else ''}] ({flat.size} values)"


def _to_uint8(images: np.ndarray, low: float, high: float) -> np.ndarray:
    x = images.astype("float32")
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[-1] == 2 or x.shape[-1] > 4:
        x = x[..., :1]
    if low < 0:
        x = (x - low) / max(high - low, 1e-12) * 255.0
    elif high <= 1.0:
        x = x * 255.0
    elif high <= 16.0:
        x = x * (255.0 / 16.0)
    return np.clip(np.round(x), 0, 255).astype("uint8")


def _short_list(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def preview(
    data: dict,
    inputs: dict[str, tuple],
    outputs: dict[str, tuple],
    base_dir: Path | None = None,
    rows: int = 8,
    progress: Progress | None = None,
) -> dict:
    """What the data panel shows, as plain picklable data (see the module docs).
    ``progress(fraction, text)`` hears about downloads and long loads.

    Raises :class:`DataError` only when the source itself cannot be loaded; problems with
    splits, mappings and shapes are reported in ``"checks"`` and ``"error"``.
    """
    if not isinstance(data, dict):
        raise DataError("The project has no data settings.", where="data")
    source = _load(data.get("source"), base_dir, progress or _no_progress, "data.source")
    n = len(source)
    kinds = {name: _field_kind(name, a, source.classes) for name, a in source.fields.items()}
    mapped_in = [
        (m.get("field") if isinstance(m, dict) else m) for m in (data.get("inputs") or {}).values()
    ]
    mapped_out = [
        (m.get("field") if isinstance(m, dict) else m) for m in (data.get("outputs") or {}).values()
    ]
    label_fields = [f for f in source.fields if kinds[f] == "labels"]
    label_field = next((f for f in mapped_out if f in label_fields), None) or next(
        iter(label_fields), None
    )
    image_fields = [f for f in source.fields if kinds[f] == "image"]
    image_field = next((f for f in mapped_in if f in image_fields), None) or next(
        iter(image_fields), None
    )

    result: dict[str, Any] = {
        "description": source.description,
        "samples": n,
        "splits": {"train": n, "validation": 0, "test": 0},
        "fields": [
            {
                "name": name,
                "shape": _sample_shape(a),
                "dtype": _dtype_text(a),
                "kind": kinds[name],
            }
            for name, a in source.fields.items()
        ],
        "rows": [
            {
                name: _cell(a[i], kinds[name], source.classes.get(name))
                for name, a in source.fields.items()
            }
            for i in range(min(rows, n))
        ],
        "images": [],
        "balance": {},
        "checks": [],
        "error": "",
    }

    if image_field is not None and n:
        images = source.fields[image_field]
        index = np.unique(np.linspace(0, n - 1, min(16, n)).round().astype(int))
        pixels = _to_uint8(images[index], float(images.min()), float(images.max()))
        labels = source.fields.get(label_field) if label_field else None
        names = source.classes.get(label_field) if label_field else None
        result["images"] = [
            (pixels[k], _cell(labels[i], "labels", names) if labels is not None else "")
            for k, i in enumerate(index)
        ]

    for name in label_fields:
        names = source.classes[name]
        ids = np.asarray(source.fields[name]).reshape(-1).astype("int64")
        counts = np.bincount(ids[ids >= 0], minlength=len(names))
        result["balance"][name] = {
            (names[i] if i < len(names) else str(i)): int(c) for i, c in enumerate(counts)
        }

    checks = [
        {
            "name": name,
            "role": role,
            "expected": _shape_text(shape),
            "got": "",
            "ok": False,
            "message": "",
        }
        for role, shapes in (("input", inputs), ("output", outputs))
        for name, shape in shapes.items()
    ]
    result["checks"] = checks
    try:
        splits = _split(data, base_dir, progress or _no_progress, source)
    except DataError as exc:
        result["error"] = exc.message
        for check in checks:
            check["message"] = "The data could not be split: " + exc.message
        return result
    result["splits"] = splits.sizes()
    sample = splits.head(PREVIEW_SAMPLES)

    for check in checks:
        name, role = check["name"], check["role"]
        shape = _model_shape((inputs if role == "input" else outputs)[name])
        try:
            mapping = _mapping(data, role, name)
            if role == "input":
                arrays = _field_arrays(sample, mapping["field"], role, name)
                done, _ = _preprocess_input(name, shape, mapping, dict(arrays))
            else:
                # Targets are checked on all the data: one stray class id matters.
                arrays = _field_arrays(splits, mapping["field"], role, name)
                names = source.classes.get(mapping["field"])
                done, _, _ = _encode_target(name, shape, mapping, dict(arrays), names)
            check["got"] = _shape_text((None,) + tuple(done["train"].shape[1:]))
            check["ok"] = True
            what = "samples" if role == "input" else "targets"
            check["message"] = (
                f"{role.capitalize()} '{name}' {_shape_text(shape)} gets {what} of shape "
                f"{check['got']}"
            )
            if role == "output" and mapping.get("encoding", "sparse") == "sparse":
                units = shape[-1] if shape else None
                if units and units > 1:
                    check["message"] = (
                        f"Output '{name}' {_shape_text(shape)} gets class ids (sparse labels) "
                        f"for its {units} classes"
                    )
        except _Mismatch as exc:
            check["got"] = "" if exc.got is None else _shape_text((None,) + tuple(exc.got))
            check["message"] = exc.message
        except DataError as exc:
            check["message"] = exc.message
        if not check["ok"] and not result["error"]:
            result["error"] = check["message"]
    return result
