"""Project files: canonical bytes, round trips, clear errors for broken files, atomic saves."""

from __future__ import annotations

import json
import os
import sys

import pytest

from studio.core.graph import Edge, Graph, Node, Output
from studio.project import (
    FORMAT_VERSION,
    MIGRATIONS,
    Project,
    ProjectError,
    default_filename,
    dumps_project,
    graph_from_dict,
    graph_to_dict,
    load_project,
    loads_project,
    project_from_dict,
    project_to_dict,
    runs_dir,
    save_project,
)
from studio.project import io as pio


# ===================================================================== fixtures
def encoder() -> Graph:
    g = Graph("encoder")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}, (0, 0)))
    g.add_node(Node("dense", "Dense", {"units": 4}, (0, 100)))
    g.add_edge(Edge("x", 0, "dense", "inputs"))
    g.set_outputs([Output("dense")])
    return g


def sample_graph() -> Graph:
    g = Graph("mnist")
    g.add_node(Node("image", "InputLayer", {"shape": [28, 28, 1]}, (10.0, -20.0)))
    g.add_node(Node("aux", "InputLayer", {"shape": [8]}, (300, 0)))
    g.add_node(
        Node(
            "conv",
            "Conv2D",
            {"kernel_size": [3, 3], "filters": 32, "activation": "relu",
             "kernel_regularizer": {"config": {"l2": 0.01, "l1": 0.0}, "class_name": "L1L2"}},
            (10, 100.5),
        )
    )
    g.add_node(Node("flat", "Flatten", {}, (10, 200)))
    g.add_node(Node("enc", "Model", {}, (300, 100), subgraph=encoder()))
    g.add_node(Node("enc_again", "Model", {}, (500, 100), shared_with="enc"))
    g.add_node(Node("merge", "Concatenate", {"axis": -1}, (150, 300)))
    g.add_node(Node("scaled", "ops.Multiply", {}, (150, 380), call_args={"x2": 0.5}))
    g.add_node(Node("dichte_ü", "Dense", {"units": 10, "activation": "softmax"}, (150.5, 450)))
    g.add_node(Node("att", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, (500, 300),
                    call_args={"use_causal_mask": True}))
    # added out of order: the file sorts them
    g.add_edge(Edge("enc_again", 0, "merge", "inputs", 2))
    g.add_edge(Edge("flat", 0, "merge", "inputs", 0))
    g.add_edge(Edge("enc", 0, "merge", "inputs", 1))
    g.add_edge(Edge("conv", 0, "flat", "inputs"))
    g.add_edge(Edge("image", 0, "conv", "inputs"))
    g.add_edge(Edge("aux", 0, "enc", "inputs"))
    g.add_edge(Edge("aux", 0, "enc_again", "inputs"))
    g.add_edge(Edge("merge", 0, "scaled", "x1"))
    g.add_edge(Edge("scaled", 0, "dichte_ü", "inputs"))
    g.add_edge(Edge("aux", 0, "att", "value"))
    g.add_edge(Edge("aux", 0, "att", "query"))
    g.set_outputs([Output("dichte_ü", 0, "Ziffer"), Output("att"), Output("enc", 0, "code")])
    return g


def sample_project(path=None) -> Project:
    return Project(
        name="mnist ✓",
        graph=sample_graph(),
        settings={"training": {"epochs": 3, "batch_size": 32}, "data": {"source": "mnist"}},
        weights="mnist.runs/imported/weights.h5",
        path=path,
        description="Handgeschriebene Ziffern — a test.",
    )


def minimal(**overrides) -> dict:
    data = {
        "format": "studio.project",
        "version": 1,
        "name": "p",
        "description": "",
        "graph": {"name": "model", "nodes": [], "edges": [], "outputs": []},
        "settings": {},
        "weights": None,
    }
    data.update(overrides)
    return data


def write(tmp_path, content, name="broken.studio.json"):
    p = tmp_path / name
    if isinstance(content, (dict, list)):
        content = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    if isinstance(content, str):
        content = content.encode("utf-8")
    p.write_bytes(content)
    return p


def error_for(tmp_path, content, name="broken.studio.json") -> ProjectError:
    p = write(tmp_path, content, name)
    with pytest.raises(ProjectError) as info:
        load_project(p)
    return info.value


def graph_text(nodes, edges=(), outputs=()) -> str:
    return json.dumps(
        minimal(graph={"name": "m", "nodes": list(nodes), "edges": list(edges),
                       "outputs": list(outputs)}),
        indent=2,
        ensure_ascii=False,
    ) + "\n"


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# ===================================================================== writing
def test_round_trip_bytes_identical(tmp_path):
    p = tmp_path / "mnist.studio.json"
    project = sample_project()
    assert save_project(project, p) == p
    assert project.path == p
    first = p.read_bytes()
    loaded = load_project(p)
    assert loaded.path == p
    q = tmp_path / "copy.studio.json"
    save_project(loaded, q)
    assert q.read_bytes() == first
    # and once more, through the dict functions
    again = project_from_dict(json.loads(first.decode("utf-8")))
    assert dumps_project(again).encode("utf-8") == first


def test_loaded_project_equals_original(tmp_path):
    p = tmp_path / "mnist.studio.json"
    project = sample_project()
    save_project(project, p)
    loaded = load_project(p)
    assert loaded.graph == project.graph
    assert loaded.name == project.name
    assert loaded.description == project.description
    assert loaded.settings == project.settings
    assert loaded.weights == project.weights
    enc = loaded.graph.node("enc")
    assert enc.subgraph == encoder()
    assert loaded.graph.node("enc_again").shared_with == "enc"
    assert loaded.graph.node("scaled").call_args == {"x2": 0.5}
    assert loaded.graph.node("att").call_args == {"use_causal_mask": True}
    assert loaded.graph.outputs == project.graph.outputs
    assert [n.name for n in loaded.graph.nodes] == [n.name for n in project.graph.nodes]
    assert loaded.graph.node("image").position == (10.0, -20.0)
    assert all(isinstance(c, float) for n in loaded.graph.nodes for c in n.position)


def test_canonical_layout():
    project = sample_project()
    data = project_to_dict(project)
    assert list(data) == [
        "format", "version", "name", "description", "graph", "settings", "weights"
    ]
    assert data["format"] == "studio.project"
    assert data["version"] == FORMAT_VERSION
    graph = data["graph"]
    assert list(graph) == ["name", "nodes", "edges", "outputs"]
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert list(nodes["image"]) == ["name", "type", "position", "params"]
    assert list(nodes["enc_again"]) == ["name", "type", "position", "params", "shared_with"]
    assert list(nodes["scaled"]) == ["name", "type", "position", "params", "call_args"]
    assert list(nodes["enc"]) == ["name", "type", "position", "params", "subgraph"]
    assert list(nodes["conv"]["params"]) == [
        "activation", "filters", "kernel_regularizer", "kernel_size"
    ]
    assert list(nodes["conv"]["params"]["kernel_regularizer"]["config"]) == ["l1", "l2"]
    assert list(data["settings"]) == ["data", "training"]
    # positions: one decimal, always floats, never -0.0
    assert nodes["image"]["position"] == [10.0, -20.0]
    assert nodes["conv"]["position"] == [10.0, 100.5]
    assert all(isinstance(c, float) for n in graph["nodes"] for c in n["position"])
    # edges: by (index of dst node, port, slot, src)
    assert [(e["from"], e["to"], e["port"], e["slot"]) for e in graph["edges"]] == [
        ("image", "conv", "inputs", 0),
        ("conv", "flat", "inputs", 0),
        ("aux", "enc", "inputs", 0),
        ("aux", "enc_again", "inputs", 0),
        ("flat", "merge", "inputs", 0),
        ("enc", "merge", "inputs", 1),
        ("enc_again", "merge", "inputs", 2),
        ("merge", "scaled", "x1", 0),
        ("scaled", "dichte_ü", "inputs", 0),
        ("aux", "att", "query", 0),
        ("aux", "att", "value", 0),
    ]
    assert list(graph["edges"][0]) == ["from", "output", "to", "port", "slot"]
    assert graph["outputs"] == [
        {"node": "dichte_ü", "output": 0, "name": "Ziffer"},
        {"node": "att", "output": 0},
        {"node": "enc", "output": 0, "name": "code"},
    ]


def test_positions_are_rounded_to_one_decimal():
    g = Graph()
    for i, pos in enumerate([(10.04, 100.26), (150.55, -0.04), (float("nan"), 3)]):
        g.add_node(Node(f"n{i}", "Dense", {}, pos))
    positions = [n["position"] for n in graph_to_dict(g)["nodes"]]
    assert positions == [[10.0, 100.3], [150.6, 0.0], [0.0, 3.0]]
    assert "-0.0" not in json.dumps(positions)
    assert all(isinstance(c, float) for p in positions for c in p)


def test_text_is_indented_unicode_with_trailing_newline():
    text = dumps_project(sample_project())
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert '"dichte_ü"' in text and "\\u" not in text
    assert text.startswith('{\n  "format": "studio.project",\n  "version": 1,\n')


def test_same_graph_built_in_another_order_gives_same_bytes():
    a = sample_project()
    b = sample_project()
    edges = b.graph.edges
    for e in edges:
        b.graph.remove_edge(e)
    for e in reversed(edges):
        b.graph.add_edge(e)
    b.graph.node("conv").params = dict(reversed(list(b.graph.node("conv").params.items())))
    assert dumps_project(a) == dumps_project(b)


def test_tuples_become_lists_and_graph_still_equal():
    g = Graph()
    g.add_node(Node("x", "InputLayer", {"shape": (28, 28)}, (1, 2)))
    back = graph_from_dict(graph_to_dict(g))
    assert back == g
    assert back.node("x").params == {"shape": [28, 28]}


def test_unsavable_value_names_the_node_and_writes_nothing(tmp_path):
    project = sample_project()
    project.graph.node("conv").params["bad"] = {1, 2}
    p = tmp_path / "x.studio.json"
    with pytest.raises(ProjectError) as info:
        save_project(project, p)
    assert info.value.kind == "unsavable"
    assert info.value.node == "conv"
    assert "conv" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unsavable_value_in_nested_model_gives_node_path():
    project = sample_project()
    project.graph.node("enc").subgraph.node("dense").params["bad"] = object()
    with pytest.raises(ProjectError) as info:
        dumps_project(project)
    assert info.value.node == "dense"
    assert info.value.node_path == ("enc", "dense")
    assert "enc" in info.value.message


def test_unsavable_settings():
    project = sample_project()
    project.settings = {1: "x"}
    with pytest.raises(ProjectError) as info:
        dumps_project(project)
    assert info.value.kind == "unsavable"


# ===================================================================== atomic save
def test_save_over_existing_file_replaces_it(tmp_path):
    p = tmp_path / "mnist.studio.json"
    p.write_text("old content that is not even JSON")
    save_project(sample_project(), p)
    assert load_project(p).graph == sample_graph()
    assert [f.name for f in tmp_path.iterdir()] == ["mnist.studio.json"]


def test_save_uses_project_path_by_default(tmp_path):
    p = tmp_path / "a.studio.json"
    project = sample_project(path=p)
    save_project(project)
    assert p.exists()
    with pytest.raises(ValueError):
        save_project(sample_project())


@pytest.mark.parametrize("fail_at", ["replace", "fsync", "write"])
def test_failed_save_keeps_original_and_leaves_no_temp(tmp_path, monkeypatch, fail_at):
    p = tmp_path / "mnist.studio.json"
    save_project(sample_project(), p)
    original = p.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if fail_at == "replace":
        monkeypatch.setattr(pio.os, "replace", boom)
    elif fail_at == "fsync":
        monkeypatch.setattr(pio.os, "fsync", boom)
    else:
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(pio.os, "fdopen", lambda fd, mode: Failing(real_fdopen(fd, mode)))

    changed = sample_project()
    changed.graph.node("conv").params["filters"] = 64
    with pytest.raises(ProjectError) as info:
        save_project(changed, p)
    assert info.value.kind == "unwritable"
    assert "No space left" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert p.read_bytes() == original
    assert [f.name for f in tmp_path.iterdir()] == ["mnist.studio.json"]


def test_failed_serialization_mid_save_keeps_original(tmp_path, monkeypatch):
    p = tmp_path / "mnist.studio.json"
    save_project(sample_project(), p)
    original = p.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("dump failed")

    monkeypatch.setattr(pio.json, "dumps", boom)
    with pytest.raises(RuntimeError):
        save_project(sample_project(), p)
    assert p.read_bytes() == original
    assert [f.name for f in tmp_path.iterdir()] == ["mnist.studio.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_save_keeps_permissions_of_existing_file(tmp_path):
    p = tmp_path / "m.studio.json"
    save_project(sample_project(), p)
    os.chmod(p, 0o640)
    save_project(sample_project(), p)
    assert p.stat().st_mode & 0o777 == 0o640


def test_save_creates_no_runs_folder(tmp_path):
    save_project(sample_project(), tmp_path / "m.studio.json")
    assert not (tmp_path / "m.runs").exists()


# ===================================================================== names
def test_runs_dir_and_names(tmp_path):
    assert runs_dir(tmp_path / "mnist.studio.json") == tmp_path / "mnist.runs"
    assert runs_dir("a/b/my.net.studio.json").as_posix() == "a/b/my.net.runs"
    assert runs_dir("x.json").as_posix() == "x.runs"
    assert default_filename("mnist") == "mnist.studio.json"
    assert default_filename("a/b: c?") == "a_b_ c_.studio.json"
    assert default_filename("  ") == "untitled.studio.json"
    project = sample_project(path=tmp_path / "mnist.studio.json")
    assert project.runs_dir == tmp_path / "mnist.runs"
    assert project.weights_path == tmp_path / "mnist.runs/imported/weights.h5"


# ===================================================================== loading: lenient
def test_unknown_types_cycles_and_bad_params_load_fine(tmp_path):
    text = graph_text(
        [
            {"name": "a", "type": "NoSuchLayer", "position": [0, 0], "params": {"units": -5}},
            {"name": "b", "type": "Dense", "position": [0, 1], "params": {"units": "many"}},
        ],
        [
            {"from": "a", "output": 0, "to": "b", "port": "inputs", "slot": 0},
            {"from": "b", "output": 0, "to": "a", "port": "inputs", "slot": 0},
        ],
    )
    project = load_project(write(tmp_path, text, "ok.studio.json"))
    assert project.graph.node("a").type == "NoSuchLayer"
    assert project.graph.node("b").params == {"units": "many"}
    assert len(project.graph.edges) == 2


def test_optional_fields_default(tmp_path):
    data = {
        "format": "studio.project",
        "version": 1,
        "graph": {"nodes": [{"name": "a", "type": "Dense"}]},
    }
    project = load_project(write(tmp_path, data, "named.studio.json"))
    assert project.name == "named"
    assert project.description == ""
    assert project.settings == {}
    assert project.weights is None
    assert project.graph.name == "model"
    assert project.graph.node("a").position == (0.0, 0.0)
    assert project.graph.node("a").params == {}


def test_utf8_bom_is_accepted(tmp_path):
    text = dumps_project(sample_project())
    p = write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"), "bom.studio.json")
    assert load_project(p).graph == sample_graph()


def test_loading_never_executes_anything(tmp_path, monkeypatch):
    import builtins
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("loading executed something")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    text = graph_text([{"name": "a", "type": "Lambda",
                        "params": {"function": "__import__('os').system('echo hi')"}}])
    project = load_project(write(tmp_path, text, "lambda.studio.json"))
    assert project.graph.node("a").params["function"].startswith("__import__")


# ===================================================================== loading: errors
def test_missing_file(tmp_path):
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path / "gone.studio.json")
    e = info.value
    assert e.kind == "unreadable"
    assert str(e).startswith("gone.studio.json: ")
    assert "no such file" in str(e)


def test_folder_is_unreadable(tmp_path):
    d = tmp_path / "dir.studio.json"
    d.mkdir()
    with pytest.raises(ProjectError) as info:
        load_project(d)
    assert info.value.kind == "unreadable"
    assert "folder" in info.value.message


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_empty_file(tmp_path, content):
    e = error_for(tmp_path, content)
    assert e.kind == "empty"
    assert str(e) == "broken.studio.json: The file is empty."


def test_not_utf8(tmp_path):
    e = error_for(tmp_path, b'{\n  "format": "studio.project",\n  "name": "\xff\xfe"\n}\n')
    assert e.kind == "encoding"
    assert e.line == 3
    assert "UTF-8" in str(e) and "0xff" in str(e)


def test_binary_file_is_not_utf8(tmp_path):
    e = error_for(tmp_path, b"\x89HDF\r\n\x1a\n\x00\x00\x00\xff\xd8", "weights.h5")
    assert e.kind == "encoding"


def test_truncated_json(tmp_path):
    text = dumps_project(sample_project())
    cut = text[: len(text) // 2]
    cut = cut[: cut.rindex(",") + 1]  # cut right after a comma
    e = error_for(tmp_path, cut)
    assert e.kind == "json"
    assert "truncated" in e.message
    assert e.line == cut.count("\n") + 1
    assert f"line {e.line}" in str(e)


def test_truncated_inside_a_string(tmp_path):
    e = error_for(tmp_path, '{\n  "format": "studio.pro')
    assert e.kind == "json"
    assert e.line == 2
    assert "never closed" in e.message


def test_missing_comma_gives_line_and_column(tmp_path):
    text = '{\n  "format": "studio.project"\n  "version": 1\n}\n'
    e = error_for(tmp_path, text)
    assert e.kind == "json"
    assert (e.line, e.column) == (3, 3)
    assert str(e).startswith("broken.studio.json, line 3, column 3: ")
    assert "expected ','" in e.message
    assert "truncated" not in e.message


def test_trailing_comma(tmp_path):
    e = error_for(tmp_path, '{\n  "format": "studio.project",\n}\n')
    assert e.kind == "json"
    assert e.line == 3
    assert "trailing comma" in e.message


def test_extra_data(tmp_path):
    e = error_for(tmp_path, "{}\n{}\n")
    assert e.kind == "json"
    assert e.line == 2
    assert "more text after" in e.message


def test_not_json_at_all(tmp_path):
    e = error_for(tmp_path, "hello world\n")
    assert e.kind == "json"
    assert e.line == 1
    assert "not valid JSON" in e.message


@pytest.mark.parametrize("content,word", [("[1, 2]", "a list"), ('"x"', "a string"),
                                          ("3", "a number"), ("null", "null")])
def test_top_level_not_an_object(tmp_path, content, word):
    e = error_for(tmp_path, content)
    assert e.kind == "format"
    assert "not a Studio project" in e.message
    assert word in e.message


def test_missing_format(tmp_path):
    data = minimal()
    del data["format"]
    e = error_for(tmp_path, data)
    assert e.kind == "format"
    assert "not a Studio project" in str(e)
    assert '"format"' in e.message


def test_wrong_format(tmp_path):
    e = error_for(tmp_path, minimal(format="keras.model"))
    assert e.kind == "format"
    assert "keras.model" in e.message


def test_newer_version(tmp_path):
    e = error_for(tmp_path, minimal(version=7))
    assert e.kind == "version"
    assert "newer Studio" in e.message
    assert "format version 7; this Studio reads up to 1" in e.message


@pytest.mark.parametrize("version", ["1", 1.0, True, None])
def test_version_not_an_int(tmp_path, version):
    e = error_for(tmp_path, minimal(version=version))
    assert e.kind == "version"
    assert "whole number" in e.message


def test_missing_version(tmp_path):
    data = minimal()
    del data["version"]
    e = error_for(tmp_path, data)
    assert e.kind == "version"
    assert "no format version" in e.message


def test_old_version_without_migration(tmp_path):
    e = error_for(tmp_path, minimal(version=0))
    assert e.kind == "version"
    assert "too old" in e.message


def test_missing_graph(tmp_path):
    data = minimal()
    del data["graph"]
    e = error_for(tmp_path, data)
    assert e.kind == "structure"
    assert '"graph"' in e.message


def test_graph_not_an_object(tmp_path):
    text = json.dumps(minimal(graph=[1]), indent=2) + "\n"
    e = error_for(tmp_path, text)
    assert e.kind == "structure"
    assert e.line == line_of(text, '"graph"')
    assert "a list" in e.message


def test_nodes_not_a_list(tmp_path):
    e = error_for(tmp_path, minimal(graph={"name": "m", "nodes": {"a": 1}}))
    assert e.kind == "structure"
    assert '"nodes"' in e.message


def test_node_missing_name(tmp_path):
    text = graph_text([{"name": "a", "type": "Dense"}, {"type": "Dense", "position": [0, 0]}])
    e = error_for(tmp_path, text)
    assert e.kind == "structure"
    assert "Node #2 has no name" in e.message
    # the line of the node's opening brace
    lines = text.splitlines()
    assert lines[e.line - 1].strip() == "{"
    assert '"type": "Dense"' in lines[e.line] and e.line > line_of(text, '"name": "a"')


def test_node_name_not_a_string(tmp_path):
    text = graph_text([{"name": 5, "type": "Dense"}])
    e = error_for(tmp_path, text)
    assert "not text" in e.message and "5" in e.message
    assert e.line == line_of(text, '"name": 5')


def test_node_missing_type(tmp_path):
    text = graph_text([{"name": "a", "type": "Dense"}, {"name": "dense_7", "params": {}}])
    e = error_for(tmp_path, text)
    assert e.kind == "structure"
    assert e.node == "dense_7"
    assert e.line == line_of(text, '"name": "dense_7"')
    assert str(e) == f"broken.studio.json, line {e.line}: Node 'dense_7' has no type."


def test_duplicate_node_names(tmp_path):
    text = graph_text([
        {"name": "a", "type": "Dense"},
        {"name": "b", "type": "Dense"},
        {"name": "a", "type": "Dropout"},
    ])
    e = error_for(tmp_path, text)
    assert e.node == "a"
    assert "Two nodes are named 'a'" in e.message
    assert e.line == line_of(text, '"type": "Dropout"') - 1


@pytest.mark.parametrize("position", [[1], [1, "2"], "0,0", [1, True], [1, 2, 3]])
def test_bad_position(tmp_path, position):
    text = graph_text([{"name": "a", "type": "Dense"},
                       {"name": "conv", "type": "Conv2D", "position": position}])
    e = error_for(tmp_path, text)
    assert e.node == "conv"
    assert "bad position" in e.message
    assert e.line == line_of(text, '"position"')


def test_params_not_an_object(tmp_path):
    text = graph_text([{"name": "a", "type": "Dense", "params": [1]}])
    e = error_for(tmp_path, text)
    assert e.node == "a"
    assert "parameters" in e.message


def test_shared_with_unknown_node(tmp_path):
    text = graph_text([{"name": "a", "type": "Dense", "shared_with": "ghost"}])
    e = error_for(tmp_path, text)
    assert e.node == "a"
    assert "ghost" in e.message
    assert e.line == line_of(text, '"shared_with"')


def test_edge_to_unknown_node(tmp_path):
    text = graph_text(
        [{"name": "a", "type": "InputLayer"}, {"name": "b", "type": "Dense"}],
        [
            {"from": "a", "output": 0, "to": "b", "port": "inputs", "slot": 0},
            {"from": "b", "output": 0, "to": "nowhere", "port": "inputs", "slot": 0},
        ],
    )
    e = error_for(tmp_path, text)
    assert e.kind == "structure"
    assert e.node == "nowhere"
    assert "Connection #2 (b → nowhere.inputs)" in e.message
    assert "node 'nowhere', which does not exist" in e.message
    assert e.line == line_of(text, '"to": "nowhere"')


def test_edge_from_unknown_node(tmp_path):
    text = graph_text(
        [{"name": "b", "type": "Dense"}],
        [{"from": "ghost", "output": 0, "to": "b", "port": "inputs", "slot": 0}],
    )
    e = error_for(tmp_path, text)
    assert "comes from node 'ghost'" in e.message


@pytest.mark.parametrize("edge,detail", [
    ({"from": "a", "to": "b"}, '"port"'),
    ({"from": "a", "to": "b", "port": 3}, '"port"'),
    ({"from": "a", "to": "b", "port": "inputs", "slot": -1}, '"slot"'),
    ({"from": "a", "to": "b", "port": "inputs", "output": "0"}, '"output"'),
    ([1, 2], "object"),
])
def test_malformed_edge(tmp_path, edge, detail):
    text = graph_text([{"name": "a", "type": "InputLayer"}, {"name": "b", "type": "Dense"}],
                      [edge])
    e = error_for(tmp_path, text)
    assert e.kind == "structure"
    assert "Connection #1" in e.message
    assert detail in e.message


def test_duplicate_edge(tmp_path):
    edge = {"from": "a", "output": 0, "to": "b", "port": "inputs", "slot": 0}
    text = graph_text([{"name": "a", "type": "InputLayer"}, {"name": "b", "type": "Dense"}],
                      [edge, edge])
    e = error_for(tmp_path, text)
    assert "Connection #2" in e.message and "twice" in e.message


def test_output_of_unknown_node(tmp_path):
    text = graph_text([{"name": "a", "type": "Dense"}], outputs=[{"node": "zzz", "output": 0}])
    e = error_for(tmp_path, text)
    assert e.node == "zzz"
    assert "Model output #1" in e.message and "zzz" in e.message
    assert e.line == line_of(text, '"node": "zzz"')


def test_settings_and_weights_types(tmp_path):
    e = error_for(tmp_path, minimal(settings=[1]))
    assert "settings" in e.message
    e = error_for(tmp_path, minimal(weights=3))
    assert "weights" in e.message


def test_error_inside_nested_model(tmp_path):
    inner = {"name": "enc", "nodes": [{"name": "dense", "type": "Dense"},
                                      {"name": "dense", "type": "Dense"}]}
    text = graph_text([
        {"name": "dense", "type": "Dense"},
        {"name": "encoder", "type": "Model", "subgraph": inner},
    ])
    e = error_for(tmp_path, text)
    assert e.node == "dense"
    assert e.node_path == ("encoder", "dense")
    assert "in model 'encoder'" in e.message
    # the second inner 'dense', not the outer one
    positions = [i for i, line in enumerate(text.splitlines(), 1) if '"name": "dense"' in line]
    assert e.line == positions[2]


def test_error_from_dict_has_no_line():
    with pytest.raises(ProjectError) as info:
        project_from_dict(minimal(graph={"nodes": [{"name": "a"}]}), source="x.studio.json")
    e = info.value
    assert e.line is None
    assert str(e) == "x.studio.json: Node 'a' has no type."


def test_loads_project_from_text():
    text = dumps_project(sample_project())
    assert loads_project(text).graph == sample_graph()
    with pytest.raises(ProjectError) as info:
        loads_project("{", source="clip")
    assert info.value.kind == "json"


def test_every_kind_is_listed():
    assert set(pio.ERROR_KINDS) >= {
        "unreadable", "empty", "encoding", "json", "format", "version", "structure",
        "unsavable", "unwritable",
    }


# ===================================================================== migrations
def test_migration_hook_upgrades_old_files(tmp_path, monkeypatch):
    def v0_to_v1(data):
        # pretend version 0 called the graph "network" and nodes had "kind" instead of "type"
        data = dict(data)
        graph = data.pop("network")
        for node in graph["nodes"]:
            node["type"] = node.pop("kind")
        data["graph"] = graph
        return data

    monkeypatch.setitem(MIGRATIONS, 0, v0_to_v1)
    old = {
        "format": "studio.project",
        "version": 0,
        "name": "old",
        "network": {"name": "m", "nodes": [{"name": "a", "kind": "Dense"}]},
    }
    project = load_project(write(tmp_path, old, "old.studio.json"))
    assert project.graph.node("a").type == "Dense"
    # saving writes the current version
    out = tmp_path / "new.studio.json"
    save_project(project, out)
    assert json.loads(out.read_text("utf-8"))["version"] == FORMAT_VERSION


def test_migrations_apply_in_order(monkeypatch):
    calls = []

    def step(n):
        def f(data):
            calls.append(n)
            return data
        return f

    monkeypatch.setattr(pio, "FORMAT_VERSION", 3)
    for n in (2, 0, 1):
        monkeypatch.setitem(MIGRATIONS, n, step(n))
    data = pio.migrate({"format": "studio.project", "version": 0})
    assert calls == [0, 1, 2]
    assert data["version"] == 3


def test_failing_migration_is_a_version_error(tmp_path, monkeypatch):
    def broken(data):
        raise KeyError("network")

    monkeypatch.setitem(MIGRATIONS, 0, broken)
    e = error_for(tmp_path, minimal(version=0))
    assert e.kind == "version"
    assert "format version 0" in e.message
