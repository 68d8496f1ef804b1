"""studio.engine.data: sources, splits, preprocessing, pipelines, previews and data errors."""

from __future__ import annotations

import csv
import http.server
import importlib.util
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from studio.engine import data as D
from studio.engine.data import DataError, load_source, prepare, preview
from studio.resources import resource_path

ROOT = Path(__file__).resolve().parents[2]


# --- helpers ---------------------------------------------------------------------------------


def digits_settings(**changes) -> dict:
    data = {
        "source": {"kind": "bundled", "name": "digits", "image_size": 28},
        "validation": {"split": 0.2},
        "test": {"split": 0.1},
        "inputs": {"image": {"field": "image", "scale": 0.0625}},
        "outputs": {"dense_1": {"field": "label", "encoding": "sparse"}},
        "shuffle": True,
        "seed": 42,
    }
    data.update(changes)
    return data


IMAGE_IN = {"image": (None, 28, 28, 1)}
TEN_OUT = {"dense_1": (None, 10)}


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


COLORS = ["red", "green", "blue"]
SPECIES = ["setosa", "versicolor", "virginica"]


def mixed_csv(path: Path, n: int = 30) -> Path:
    """Numeric (a, b), categorical (color), text (comment) columns and a string target."""
    rows = [
        [i * 0.5, 10 - i, COLORS[i % 3], f"comment number {i} about item {i * 7}", SPECIES[i % 3]]
        for i in range(n)
    ]
    return write_csv(path, ["a", "b", "color", "comment", "species"], rows)


def write_png(path: Path, pixels: np.ndarray) -> None:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(path), tf.io.encode_png(pixels))


# --- bundled ---------------------------------------------------------------------------------


def test_bundled_digits_sizes_flatten_and_range():
    small = load_source({"kind": "bundled", "name": "digits", "image_size": 8})
    assert len(small) == 1797
    assert small.fields["image"].shape == (1797, 8, 8, 1)
    assert small.fields["label"].dtype == np.int32
    assert small.classes["label"] == [str(i) for i in range(10)]
    assert small.description == "scikit-learn digits: 1,797 8x8 images, 10 classes"

    big = load_source({"kind": "bundled", "name": "digits", "image_size": 28})
    image = big.fields["image"]
    assert image.shape == (1797, 28, 28, 1) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() <= 16 and image.max() > 12
    # the upscaled image keeps the digit's overall brightness pattern
    down = image[0, ::4, ::4, 0][:7, :7]
    assert np.corrcoef(down.ravel(), small.fields["image"][0, :7, :7, 0].ravel())[0, 1] > 0.7

    flat = load_source({"kind": "bundled", "name": "digits", "image_size": 28, "flatten": True})
    assert flat.fields["image"].shape == (1797, 784)

    with pytest.raises(DataError) as err:
        load_source({"kind": "bundled", "name": "digits", "image_size": 16})
    assert err.value.where == "data.source.image_size"


@pytest.mark.parametrize(
    ("name", "n", "d", "classes"),
    [
        ("iris", 150, 4, ["setosa", "versicolor", "virginica"]),
        ("wine", 178, 13, ["class_0", "class_1", "class_2"]),
        ("breast_cancer", 569, 30, ["malignant", "benign"]),
    ],
)
def test_bundled_tables(name, n, d, classes):
    ds = load_source({"kind": "bundled", "name": name})
    assert ds.fields["features"].shape == (n, d) and ds.fields["features"].dtype == np.float32
    assert ds.fields["label"].shape == (n,)
    assert ds.classes == {"label": classes}
    assert f"{n} samples" in ds.description


def test_bundled_reviews():
    ds = load_source({"kind": "bundled", "name": "reviews"})
    assert len(ds) == 2000
    assert ds.classes == {"label": ["negative", "positive"]}
    assert isinstance(ds.fields["text"][0], str)
    assert 800 < ds.fields["label"].sum() < 1200
    assert "2,000 short texts" in ds.description


def test_reviews_file_is_generated_and_small():
    spec = importlib.util.spec_from_file_location(
        "make_datasets", ROOT / "tools" / "make_datasets.py"
    )
    make_datasets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_datasets)
    assert make_datasets.main(["--check"]) == 0
    assert resource_path("datasets", "reviews.csv").stat().st_size <= 300_000


def test_bundled_multi_io_is_deterministic():
    a = load_source({"kind": "bundled", "name": "multi_io"})
    b = load_source({"kind": "bundled", "name": "multi_io"})
    shapes = {name: arr.shape for name, arr in a.fields.items()}
    assert shapes == {
        "input1": (2000, 64),
        "input2": (2000, 128),
        "regression": (2000, 1),
        "classification": (2000,),
    }
    for name in a.fields:
        np.testing.assert_array_equal(a.fields[name], b.fields[name])
    assert set(np.unique(a.fields["classification"])) == set(range(5))
    assert abs(float(a.fields["input1"].std()) - 1) < 0.05


def test_unknown_kinds_and_names():
    with pytest.raises(DataError) as err:
        load_source({"kind": "parquet"})
    assert err.value.where == "data.source.kind" and "csv" in err.value.message
    with pytest.raises(DataError) as err:
        load_source({"kind": "bundled", "name": "titanic"})
    assert err.value.where == "data.source.name" and "iris" in err.value.message


# --- csv -------------------------------------------------------------------------------------


def test_csv_numeric_categorical_text_and_string_target(tmp_path):
    mixed_csv(tmp_path / "plants.csv")
    ds = load_source({"kind": "csv", "path": "plants.csv", "target": "species"}, tmp_path)
    assert set(ds.fields) == {"features", "comment", "species"}
    features = ds.fields["features"]
    assert features.shape == (30, 2 + 3) and features.dtype == np.float32
    np.testing.assert_allclose(features[3, :2], [1.5, 7])
    # color one-hot, categories sorted: blue, green, red; row 3 is red
    assert ds.schema["feature_names"] == ["a", "b", "color=blue", "color=green", "color=red"]
    np.testing.assert_array_equal(features[3, 2:], [0, 0, 1])
    assert ds.fields["comment"][2] == "comment number 2 about item 14"
    assert ds.classes == {"species": SPECIES}
    np.testing.assert_array_equal(ds.fields["species"][:4], [0, 1, 2, 0])
    assert "plants.csv: 30 rows" in ds.description


def test_csv_column_types_override_and_numeric_target(tmp_path):
    write_csv(
        tmp_path / "t.csv",
        ["size", "note", "price"],
        [[i % 4, f"n{i}", 1.5 * i] for i in range(12)],
    )
    spec = {
        "kind": "csv",
        "path": str(tmp_path / "t.csv"),
        "target": "price",
        "column_types": {"size": "categorical", "note": "text"},
    }
    ds = load_source(spec)
    assert ds.fields["features"].shape == (12, 4)  # size as 4 categories
    assert ds.fields["note"][5] == "n5"
    assert ds.fields["price"].dtype == np.float32 and "price" not in ds.classes


def test_csv_missing_column_names_column_file_and_columns(tmp_path):
    mixed_csv(tmp_path / "plants.csv")
    with pytest.raises(DataError) as err:
        load_source({"kind": "csv", "path": str(tmp_path / "plants.csv"), "target": "kind"})
    assert err.value.message == (
        "The file plants.csv has no column 'kind'. Its columns are: a, b, color, comment, species."
    )
    assert err.value.where == "data.source.target"


def test_csv_non_numeric_value_names_file_line_column_and_value(tmp_path):
    rows = [[i, i * 2] for i in range(10)]
    rows[6][1] = "12,5"  # a decimal comma: line 8 (the header is line 1)
    write_csv(tmp_path / "n.csv", ["x", "y"], rows)
    with pytest.raises(DataError) as err:
        load_source({"kind": "csv", "path": str(tmp_path / "n.csv")})
    message = err.value.message
    assert "Line 8 of n.csv, column 'y', has '12,5', which is not a number" in message
    assert "column_types" in message
    assert err.value.where == "n.csv, line 8, column 'y'"


def test_csv_bad_row_and_missing_file(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(DataError, match="Line 3 of bad.csv has 1 values but the header has 2"):
        load_source({"kind": "csv", "path": str(tmp_path / "bad.csv")})
    with pytest.raises(DataError) as err:
        load_source({"kind": "csv", "path": "nowhere.csv"}, tmp_path)
    assert str(tmp_path / "nowhere.csv") in err.value.message
    assert err.value.where == "data.source.path"


# --- npz / npy -------------------------------------------------------------------------------


def test_npz_fields_and_label_guess(tmp_path):
    x = np.arange(40, dtype="float32").reshape(10, 4)
    y = np.array([0, 1, 2, 1, 0, 2, 1, 0, 2, 1])
    np.savez(tmp_path / "d.npz", x=x, y=y, names=np.array([f"s{i}" for i in range(10)]))
    ds = load_source({"kind": "npz", "path": "d.npz"}, tmp_path)
    np.testing.assert_array_equal(ds.fields["x"], x)
    assert ds.classes == {"y": ["0", "1", "2"]}
    assert ds.fields["names"][3] == "s3" and ds.fields["names"].dtype == object


def test_npz_rejects_different_lengths_and_objects(tmp_path):
    np.savez(tmp_path / "uneven.npz", x=np.zeros((10, 2)), y=np.zeros(9))
    with pytest.raises(DataError, match="different lengths"):
        load_source({"kind": "npz", "path": str(tmp_path / "uneven.npz")})
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2], [3]]
    np.savez(tmp_path / "objects.npz", x=ragged)
    with pytest.raises(DataError, match="pickled Python objects"):
        load_source({"kind": "npz", "path": str(tmp_path / "objects.npz")})


def test_npy_paths(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((5, 3), "float32"))
    np.save(tmp_path / "y.npy", np.arange(5, dtype="float32"))
    ds = load_source({"kind": "npy", "paths": {"x": "x.npy", "y": "y.npy"}}, tmp_path)
    assert ds.fields["x"].shape == (5, 3) and ds.fields["y"].shape == (5,)
    with pytest.raises(DataError) as err:
        load_source({"kind": "npy", "paths": {"x": "x.npy", "y": "z.npy"}}, tmp_path)
    assert err.value.where == "data.source.paths.y"


# --- folders ---------------------------------------------------------------------------------


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        for i in range(3):
            pixels = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            write_png(tmp_path / "pets" / label / f"{i}.png", pixels)
    spec = {"kind": "image_folder", "path": "pets", "image_size": [6, 5]}
    ds = load_source(spec, tmp_path)
    assert ds.fields["image"].shape == (6, 6, 5, 3)
    assert 0 <= ds.fields["image"].min() and ds.fields["image"].max() <= 255
    np.testing.assert_array_equal(ds.fields["label"], [0, 0, 0, 1, 1, 1])
    assert ds.classes == {"label": ["cats", "dogs"]}
    grey = load_source(spec | {"color_mode": "grayscale", "image_size": [4, 4]}, tmp_path)
    assert grey.fields["image"].shape == (6, 4, 4, 1)


def test_image_folder_empty_or_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        load_source({"kind": "image_folder", "path": str(tmp_path / "empty")})
    assert str(tmp_path / "empty") in err.value.message
    assert "no class subfolders" in err.value.message
    (tmp_path / "noimages" / "cats").mkdir(parents=True)
    (tmp_path / "noimages" / "cats" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="has no images"):
        load_source({"kind": "image_folder", "path": str(tmp_path / "noimages")})


def test_text_folder(tmp_path):
    for label, words in (("neg", "bad awful"), ("pos", "good great")):
        for i in range(2):
            path = tmp_path / "texts" / label / f"{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{words} {i} é", encoding="utf-8")
    ds = load_source({"kind": "text_folder", "path": str(tmp_path / "texts")})
    assert ds.classes == {"label": ["neg", "pos"]}
    assert sorted(ds.fields["text"]) == [
        "bad awful 0 é",
        "bad awful 1 é",
        "good great 0 é",
        "good great 1 é",
    ]
    assert all(isinstance(t, str) for t in ds.fields["text"])


# --- keras.datasets --------------------------------------------------------------------------


def test_keras_source_without_network_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(D, "KERAS_DATASETS_URL", "http://127.0.0.1:9/")
    seen = []
    with pytest.raises(DataError) as err:
        load_source({"kind": "keras", "name": "mnist"}, progress=lambda f, t: seen.append(t))
    message = err.value.message
    assert message.startswith("Could not download MNIST (no connection to 127.0.0.1).")
    assert "Connect to the internet once; after that it is cached in" in message
    assert seen == ["Downloading mnist.npz"]
    assert list((tmp_path / "datasets").iterdir()) == []  # no half-written file left


def test_keras_sources_with_builtin_test_split(keras, monkeypatch):
    """The conversion of keras.datasets arrays, with load_data faked (no network here)."""
    rng = np.random.default_rng(0)

    def fake_mnist():
        return (
            (rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), np.arange(50) % 10),
            (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10),
        )

    def fake_imdb(num_words=None):
        def sequences(n):
            out = np.empty(n, dtype=object)
            out[:] = [list(range(1, 3 + i % 7)) for i in range(n)]
            return out

        assert num_words == 10000
        return (sequences(30), np.arange(30) % 2), (sequences(10), np.arange(10) % 2)

    monkeypatch.setattr(D, "_fetch", lambda name, progress: None)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_mnist)
    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake_imdb)

    mnist = load_source({"kind": "keras", "name": "mnist"})
    assert mnist.fields["image"].shape == (50, 28, 28, 1) and len(mnist.test) == 20
    assert mnist.classes == {"label": [str(i) for i in range(10)]}
    data = digits_settings(
        source={"kind": "keras", "name": "mnist"},
        test={"builtin": True},
        inputs={"image": {"field": "image", "scale": 1 / 255}},
    )
    p = prepare(data, IMAGE_IN, TEN_OUT)
    assert (p.samples("train"), p.samples("validation"), p.samples("test")) == (40, 10, 20)
    np.testing.assert_array_equal(p.test[1]["dense_1"], np.arange(20) % 10)  # not shuffled
    assert p.raw_test["image"].dtype == np.uint8 and p.test[0]["image"].max() <= 1.0

    imdb = load_source({"kind": "keras", "name": "imdb"})
    assert imdb.classes == {"label": ["negative", "positive"]}
    pv = preview({"source": {"kind": "keras", "name": "imdb"}}, {}, {})
    assert pv["fields"][0] == {
        "name": "sequence",
        "shape": (None,),
        "dtype": "int sequence",
        "kind": "sequence",
    }
    assert pv["rows"][0]["sequence"] == "[1, 2] (2 ids)"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()

    def handler(*args, **kwargs):
        return _Quiet(*args, directory=str(served), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_into_cache_with_progress_and_hash(tmp_path, file_server):
    served, url = file_server
    payload = bytes(range(256)) * 1000
    (served / "blob.npz").write_bytes(payload)
    dest = tmp_path / "cache" / "blob.npz"
    seen = []
    D._download(url + "blob.npz", dest, "Blob", None, lambda f, t: seen.append((f, t)))
    assert dest.read_bytes() == payload
    assert seen[-1] == (1.0, "Downloading blob.npz") and all(0 <= f <= 1 for f, _ in seen)
    with pytest.raises(DataError, match="incomplete or damaged"):
        D._download(url + "blob.npz", tmp_path / "other.npz", "Blob", "0" * 64, lambda f, t: None)
    assert not (tmp_path / "other.npz").exists()
    with pytest.raises(DataError, match="answered 404"):
        D._download(url + "missing.npz", tmp_path / "m.npz", "Blob", None, lambda f, t: None)


# --- prepare(): splits -----------------------------------------------------------------------


def test_splits_add_up_test_first_and_seeded():
    p = prepare(digits_settings(), IMAGE_IN, TEN_OUT)
    sizes = [p.samples(s) for s in ("train", "validation", "test")]
    assert sizes == [1258, 359, 180] and sum(sizes) == 1797
    again = prepare(digits_settings(), IMAGE_IN, TEN_OUT)
    np.testing.assert_array_equal(p.test[1]["dense_1"], again.test[1]["dense_1"])
    other = prepare(digits_settings(seed=7), IMAGE_IN, TEN_OUT)
    assert not np.array_equal(p.test[1]["dense_1"], other.test[1]["dense_1"])

    # Unshuffled: [train | validation | test] in source order; 10 % is taken for test first.
    plain = prepare(digits_settings(shuffle=False), IMAGE_IN, TEN_OUT)
    labels = load_source({"kind": "bundled", "name": "digits"}).fields["label"]
    np.testing.assert_array_equal(plain.test[1]["dense_1"], labels[-180:])
    np.testing.assert_array_equal(plain.validation[1]["dense_1"], labels[1258:1617])
    np.testing.assert_array_equal(plain.train[1]["dense_1"], labels[:1258])
    assert plain.raw_test["image"].max() == 16  # un-preprocessed (scale not applied)
    assert plain.test[0]["image"].max() == pytest.approx(1.0)


def test_split_errors():
    with pytest.raises(DataError) as err:
        prepare(digits_settings(validation={"split": 0.6}, test={"split": 0.4}), IMAGE_IN, TEN_OUT)
    assert err.value.where == "data.validation.split"
    with pytest.raises(DataError) as err:
        prepare(digits_settings(test={"split": 1.5}), IMAGE_IN, TEN_OUT)
    assert err.value.where == "data.test.split"
    with pytest.raises(DataError) as err:
        prepare(digits_settings(test={"builtin": True}), IMAGE_IN, TEN_OUT)
    assert err.value.where == "data.test" and "no built-in test split" in err.value.message


def test_separate_validation_source_with_aligned_classes(tmp_path):
    mixed_csv(tmp_path / "train.csv")
    rows = [[1.0, 2.0, "red", f"other text {i}", SPECIES[1 + i % 2]] for i in range(4)]
    write_csv(tmp_path / "val.csv", ["a", "b", "color", "comment", "species"], rows)
    data = {
        "source": {"kind": "csv", "path": "train.csv", "target": "species"},
        "validation": {"source": {"kind": "csv", "path": "val.csv", "target": "species"}},
        "inputs": {"x": {"field": "features"}},
        "outputs": {"y": {"field": "species"}},
    }
    p = prepare(data, {"x": (None, 5)}, {"y": (None, 3)}, base_dir=tmp_path)
    assert p.samples("train") == 30 and p.samples("validation") == 4 and p.test is None
    # val.csv alone has classes [versicolor, virginica]; ids follow the training file's
    np.testing.assert_array_equal(p.validation[1]["y"], [1, 2, 1, 2])
    # its one colour is one-hot in the training file's three columns
    assert p.validation[0]["x"].shape == (4, 5)
    np.testing.assert_array_equal(p.validation[0]["x"][0, 2:], [0, 0, 1])
    assert p.raw_test == {}


# --- prepare(): inputs -----------------------------------------------------------------------


def test_wrong_shape_names_input_and_both_shapes():
    data = digits_settings(source={"kind": "bundled", "name": "digits", "image_size": 8})
    with pytest.raises(DataError) as err:
        prepare(data, IMAGE_IN, TEN_OUT)
    assert err.value.message == (
        "Input 'image' expects samples of shape (28, 28, 1) but field 'image' of the data has "
        "shape (8, 8, 1)."
    )
    assert err.value.where == "input 'image'"


def test_reshape_flat_features_into_images():
    source = {"kind": "bundled", "name": "digits", "image_size": 28, "flatten": True}
    data = digits_settings(source=source)
    with pytest.raises(DataError, match="turn on reshape"):
        prepare(data, IMAGE_IN, TEN_OUT)
    data["inputs"]["image"]["reshape"] = True
    p = prepare(data, IMAGE_IN, TEN_OUT)
    assert p.train[0]["image"].shape == (1258, 28, 28, 1)
    assert p.train[0]["image"].dtype == np.float32


def test_missing_mapping_and_missing_field():
    with pytest.raises(DataError) as err:
        prepare(digits_settings(inputs={}), IMAGE_IN, TEN_OUT)
    assert err.value.where == "data.inputs.image.field"
    with pytest.raises(DataError) as err:
        prepare(digits_settings(inputs={"image": {"field": "pixels"}}), IMAGE_IN, TEN_OUT)
    assert "'pixels'" in err.value.message and "The fields are: image, label." in err.value.message


def test_text_vectorization_adapted_on_training_split_only(tmp_path):
    texts = [f"common words {'good' if i % 2 else 'bad'}" for i in range(18)]
    texts += ["zebra common", "zebra giraffe"]  # the last two: the unshuffled 10 % test part
    labels = np.array([i % 2 for i in range(20)])
    np.savez(tmp_path / "t.npz", text=np.array(texts), label=labels)
    data = {
        "source": {"kind": "npz", "path": "t.npz"},
        "shuffle": False,
        "test": {"split": 0.1},
        "inputs": {"tokens": {"field": "text", "text": {"max_tokens": 50, "sequence_length": 4}}},
        "outputs": {"out": {"field": "label"}},
    }
    p = prepare(data, {"tokens": (None, 4)}, {"out": (None, 1)}, base_dir=tmp_path)
    vocabulary = p.preprocessing["tokens"]["text"]["vocabulary"]
    assert "zebra" not in vocabulary and "giraffe" not in vocabulary and "good" in vocabulary
    test_tokens = p.test[0]["tokens"]
    assert test_tokens.dtype == np.int32 and test_tokens.shape == (2, 4)
    assert test_tokens[1, 0] == 1 and test_tokens[1, 1] == 1  # both unknown: [UNK]
    assert list(p.raw_test["tokens"]) == ["zebra common", "zebra giraffe"]
    assert p.tasks == {"out": "binary"} and p.test[1]["out"].shape == (2, 1)

    # text into a model input without text preprocessing
    del data["inputs"]["tokens"]["text"]
    with pytest.raises(DataError, match="holds text. Add text preprocessing"):
        prepare(data, {"tokens": (None, 4)}, {"out": (None, 1)}, base_dir=tmp_path)


def test_normalization_uses_training_statistics():
    data = {
        "source": {"kind": "bundled", "name": "multi_io"},
        "validation": {"split": 0.25},
        "shuffle": False,
        "inputs": {
            "input1": {"field": "input1", "scale": 3.0, "normalize": True},
            "input2": {"field": "input2"},
        },
        "outputs": {
            "regression": {"field": "regression", "encoding": "raw"},
            "classification": {"field": "classification", "encoding": "sparse"},
        },
    }
    inputs = {"input1": (None, 64), "input2": (None, 128)}
    outputs = {"regression": (None, 1), "classification": (None, 5)}
    p = prepare(data, inputs, outputs)
    train = p.train[0]["input1"]
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-3)
    val = p.validation[0]["input1"]
    assert np.abs(val.mean(axis=0)).max() > 1e-3  # validation is not re-centred on itself
    source = load_source({"kind": "bundled", "name": "multi_io"}).fields["input1"]
    mean = np.array(p.preprocessing["input1"]["normalize"]["mean"])
    np.testing.assert_allclose(mean, 3.0 * source[:1500].mean(axis=0), atol=1e-4)
    assert p.tasks == {"regression": "regression", "classification": "classification"}
    assert p.classes == {"regression": None, "classification": ["0", "1", "2", "3", "4"]}
    assert p.train[1]["regression"].dtype == np.float32
    assert p.train[1]["classification"].dtype == np.int32


def test_pad_ragged_sequences(monkeypatch):
    sequences = [list(range(1, n + 1)) for n in (3, 8, 5, 1, 6)] * 4

    def fake(spec, base_dir, progress, setting, like):
        return D.Dataset(
            {"sequence": D._ragged(sequences), "label": np.arange(20) % 2},
            {"label": ["no", "yes"]},
            "fake sequences",
        )

    monkeypatch.setitem(D._LOADERS, "fake", fake)
    data = {
        "source": {"kind": "fake"},
        "shuffle": False,
        "inputs": {"ids": {"field": "sequence", "pad": {"maxlen": 5}}},
        "outputs": {"out": {"field": "label", "encoding": "onehot"}},
    }
    p = prepare(data, {"ids": (None, 5)}, {"out": (None, 2)})
    ids = p.train[0]["ids"]
    assert ids.dtype == np.int32 and ids.shape == (20, 5)
    np.testing.assert_array_equal(ids[0], [0, 0, 1, 2, 3])  # padded before
    np.testing.assert_array_equal(ids[1], [4, 5, 6, 7, 8])  # truncated before
    assert p.train[1]["out"].shape == (20, 2)

    data["inputs"]["ids"] = {"field": "sequence"}
    with pytest.raises(DataError, match="Add padding"):
        prepare(data, {"ids": (None, 5)}, {"out": (None, 2)})


# --- prepare(): targets ----------------------------------------------------------------------


def iris(encoding: str | None) -> dict:
    outputs = {"out": {"field": "label"} | ({"encoding": encoding} if encoding else {})}
    return {
        "source": {"kind": "bundled", "name": "iris"},
        "validation": {"split": 0.2},
        "inputs": {"x": {"field": "features", "normalize": True}},
        "outputs": outputs,
        "seed": 1,
    }


def test_sparse_and_onehot_targets():
    sparse = prepare(iris("sparse"), {"x": (None, 4)}, {"out": (None, 3)})
    assert sparse.train[1]["out"].shape == (120,) and sparse.train[1]["out"].dtype == np.int32
    assert sparse.classes["out"] == ["setosa", "versicolor", "virginica"]
    assert sparse.tasks["out"] == "classification"
    assert prepare(iris(None), {"x": (None, 4)}, {"out": (None, 3)}).tasks["out"] == (
        "classification"
    )  # label fields default to sparse

    onehot = prepare(iris("onehot"), {"x": (None, 4)}, {"out": (None, 3)})
    y = onehot.train[1]["out"]
    assert y.shape == (120, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y.argmax(axis=1), sparse.train[1]["out"])

    with pytest.raises(DataError) as err:
        prepare(iris("onehot"), {"x": (None, 4)}, {"out": (None, 4)})
    assert err.value.message == (
        "Output 'out' expects targets of shape (4,) but field 'label' one-hot encoded has "
        "shape (3,) (3 classes)."
    )


def test_sparse_labels_beyond_the_output_units():
    with pytest.raises(DataError) as err:
        prepare(digits_settings(), IMAGE_IN, {"dense_1": (None, 5)})
    assert err.value.message == (
        "Output 'dense_1' has 5 units but field 'label' has class ids up to 9 (10 classes): "
        "give it 10 units."
    )
    assert err.value.where == "output 'dense_1'"
    with pytest.raises(DataError, match="1 unit, which suits two classes"):
        prepare(digits_settings(), IMAGE_IN, {"dense_1": (None, 1)})


def test_raw_regression_target_shape():
    data = {
        "source": {"kind": "bundled", "name": "multi_io"},
        "inputs": {"a": {"field": "input1"}},
        "outputs": {"r": {"field": "regression"}},
    }
    p = prepare(data, {"a": (None, 64)}, {"r": (None, 1)})
    assert p.tasks == {"r": "regression"} and p.train[1]["r"].shape == (2000, 1)
    with pytest.raises(DataError, match=r"expects targets of shape \(3,\)"):
        prepare(data, {"a": (None, 64)}, {"r": (None, 3)})
    data["outputs"]["r"] = {"field": "input2", "encoding": "sparse"}
    with pytest.raises(DataError, match="must hold whole class ids"):
        prepare(data, {"a": (None, 64)}, {"r": (None, 3)})


# --- Prepared.dataset() ----------------------------------------------------------------------


def test_dataset_batches_are_dicts(keras):
    p = prepare(digits_settings(), IMAGE_IN, TEN_OUT)
    ds = p.dataset("train", 64, shuffle=True, seed=3)
    x, y = next(iter(ds))
    assert set(x) == {"image"} and x["image"].shape == (64, 28, 28, 1)
    assert y["dense_1"].shape == (64,) and y["dense_1"].dtype.name == "int32"
    batches = list(p.dataset("validation", 100, cache=False, prefetch=False))
    assert [b[0]["image"].shape[0] for b in batches] == [100, 100, 100, 59]
    first = [b[1]["dense_1"].numpy() for b in p.dataset("train", 1258, shuffle=True, seed=3)]
    assert sorted(first[0]) == sorted(p.train[1]["dense_1"])  # one epoch: every sample once
    with pytest.raises(ValueError):
        p.dataset("holdout", 8)


@pytest.mark.slow
def test_dataset_fits_single_and_multi_output_models(keras):
    p = prepare(iris("sparse"), {"x": (None, 4)}, {"out": (None, 3)})
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(inp))
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(p.dataset("train", 32, model=model), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    data = {
        "source": {"kind": "bundled", "name": "multi_io"},
        "inputs": {"input1": {"field": "input1"}, "input2": {"field": "input2"}},
        "outputs": {"r": {"field": "regression"}, "c": {"field": "classification"}},
    }
    p = prepare(
        data, {"input1": (None, 64), "input2": (None, 128)}, {"r": (None, 1), "c": (None, 5)}
    )
    a, b = keras.Input((64,), name="input1"), keras.Input((128,), name="input2")
    h = keras.layers.Concatenate()([a, b])
    r = keras.layers.Dense(1, name="r")(h)
    c = keras.layers.Dense(5, activation="softmax", name="c")(h)
    model = keras.Model([a, b], [r, c])
    model.compile("adam", {"r": "mse", "c": "sparse_categorical_crossentropy"})
    history = model.fit(p.dataset("train", 64, model=model), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# --- preview() -------------------------------------------------------------------------------


def test_preview_reports_images_balance_and_checks():
    data = digits_settings(source={"kind": "bundled", "name": "digits", "image_size": 8})
    pv = preview(data, IMAGE_IN, TEN_OUT)
    pickle.dumps(pv)
    assert pv["samples"] == 1797
    assert pv["splits"] == {"train": 1258, "validation": 359, "test": 180}
    assert pv["fields"] == [
        {"name": "image", "shape": (8, 8, 1), "dtype": "float32", "kind": "image"},
        {"name": "label", "shape": (), "dtype": "int32", "kind": "labels"},
    ]
    assert len(pv["rows"]) == 8 and pv["rows"][0] == {"image": "8x8x1 image", "label": "0"}
    assert len(pv["images"]) == 16
    pixels, label = pv["images"][0]
    assert pixels.dtype == np.uint8 and pixels.shape == (8, 8, 1) and label == "0"
    assert max(int(img.max()) for img, _ in pv["images"]) == 255
    assert sum(pv["balance"]["label"].values()) == 1797 and pv["balance"]["label"]["3"] == 183
    image_check, label_check = pv["checks"]
    assert image_check == {
        "name": "image",
        "role": "input",
        "expected": "(None, 28, 28, 1)",
        "got": "(None, 8, 8, 1)",
        "ok": False,
        "message": "Input 'image' expects samples of shape (28, 28, 1) but field 'image' of "
        "the data has shape (8, 8, 1).",
    }
    assert label_check["ok"] and label_check["role"] == "output"
    assert label_check["message"] == (
        "Output 'dense_1' (None, 10) gets class ids (sparse labels) for its 10 classes"
    )
    assert pv["error"] == image_check["message"]

    good = preview(digits_settings(), IMAGE_IN, TEN_OUT, rows=3)
    assert good["error"] == "" and all(c["ok"] for c in good["checks"])
    assert good["checks"][0]["got"] == "(None, 28, 28, 1)" and len(good["rows"]) == 3


def test_preview_reports_mapping_problems_and_raises_for_sources(tmp_path):
    pv = preview(digits_settings(outputs={}), IMAGE_IN, TEN_OUT)
    assert pv["checks"][1]["ok"] is False and "has no data" in pv["checks"][1]["message"]
    assert pv["error"] == pv["checks"][1]["message"]
    text = preview(
        {"source": {"kind": "bundled", "name": "reviews"}, "inputs": {}, "outputs": {}}, {}, {}
    )
    assert [f["kind"] for f in text["fields"]] == ["text", "labels"]
    assert text["images"] == [] and set(text["balance"]["label"]) == {"negative", "positive"}
    with pytest.raises(DataError):
        preview({"source": {"kind": "csv", "path": "none.csv"}}, {}, {}, base_dir=tmp_path)


def test_data_error_pickles_with_where():
    err = pickle.loads(pickle.dumps(DataError("Bad data.", "data.source.path")))
    assert (str(err), err.message, err.where) == ("Bad data.", "Bad data.", "data.source.path")
