"""Studio's command line: ``studio validate | summary | import | train`` and the editor.

Every failure is one clear message on stderr and a non-zero exit status, never a traceback:

* 0: success (``validate``: the project is valid; warnings may be printed);
* 1: the project or model has errors (one line each, naming the node);
* 2: the file cannot be read (missing, not a project, broken JSON, newer version).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from studio import __version__

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _load(path: str):
    """A project, or None after printing why it cannot be read."""
    from studio.project import ProjectError, load_project

    try:
        return load_project(path)
    except ProjectError as exc:
        _err(f"studio: {exc}")
        return None


def _diagnostics(project):
    from studio.core.validation import validate

    return validate(project.graph)


def _node_lines(path: str) -> dict[str, int]:
    """The line of each top-level node's entry in the project file (for messages)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    lines: dict[str, int] = {}
    start = text.find('"nodes"')
    if start < 0:
        return lines
    line_start = text.rfind("\n", 0, start) + 1
    depth_at_nodes = start - line_start
    for lineno, line in enumerate(text[line_start:].splitlines(), text.count("\n", 0, start) + 1):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith('"name": ') and indent == depth_at_nodes + 4:
            try:
                name = json.loads(stripped[len('"name": ') :].rstrip(","))
            except json.JSONDecodeError:
                continue
            lines.setdefault(name, lineno)
        if stripped.startswith('"edges"') and indent == depth_at_nodes:
            break
    return lines


def _print_diagnostics(diags, path: str) -> int:
    from studio.core.validation import format_diagnostic

    errors = 0
    lines = _node_lines(path)
    for d in diags:
        where = Path(path).name
        if d.node in lines:
            where += f", line {lines[d.node]}"
        print(f"{where}: {format_diagnostic(d)}", file=sys.stderr)
        errors += d.severity == "error"
    return errors


def cmd_validate(args) -> int:
    project = _load(args.project)
    if project is None:
        return EXIT_UNREADABLE
    diags = _diagnostics(project)
    errors = _print_diagnostics(diags, args.project)
    if errors:
        return EXIT_INVALID
    warnings = len(diags) - errors
    suffix = f" ({warnings} warning{'s' * (warnings != 1)})" if warnings else ""
    print(f"{Path(args.project).name}: valid, {len(project.graph)} nodes{suffix}.")
    return EXIT_OK


def _shape_json(shape):
    return [d for d in shape]


def summary_data(project, result) -> dict:
    graph = project.graph
    layers = []
    for node in graph.nodes:
        info = result.nodes[node.name]
        entry = {
            "name": node.name,
            "type": node.type,
            "output_shapes": [_shape_json(s) for s, _ in info.outputs],
            "output_dtypes": [d for _, d in info.outputs],
            "params": info.params,
            "trainable_params": info.trainable,
            "non_trainable_params": info.non_trainable,
            "inputs": sorted({e.src for e in graph.in_edges(node.name)}),
        }
        if node.shared_with:
            entry["shared_with"] = node.shared_with
        if info.error:
            entry["error"] = info.error
        layers.append(entry)
    return {
        "name": graph.name,
        "total_params": result.total_params,
        "trainable_params": result.trainable_params,
        "non_trainable_params": result.non_trainable_params,
        "inputs": [n.name for n in graph.input_nodes],
        "outputs": [
            {"node": o.node, "output": o.index, **({"name": o.name} if o.name else {})}
            for o in graph.outputs
        ],
        "layers": layers,
    }


def _human_bytes(n_params: int) -> str:
    size = n_params * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return ""


def format_summary(data: dict) -> str:
    rows = []
    for layer in data["layers"]:
        shapes = layer["output_shapes"]
        shape_txt = ", ".join(
            "(" + ", ".join("None" if d is None else str(d) for d in s) + ")" for s in shapes
        ) or "?"
        kind = layer["type"] + (f", shares {layer['shared_with']}" if "shared_with" in layer else "")
        rows.append((f"{layer['name']} ({kind})", shape_txt, f"{layer['params']:,}", layer))
    w1 = max([len("Layer (type)")] + [len(r[0]) for r in rows])
    w2 = max([len("Output Shape")] + [len(r[1]) for r in rows])
    w3 = max([len("Param #")] + [len(r[2]) for r in rows])
    line = "─" * (w1 + w2 + w3 + 6)
    out = [f'Model: "{data["name"]}"', line]
    out.append(f"{'Layer (type)':<{w1}}   {'Output Shape':<{w2}}   {'Param #':>{w3}}")
    out.append(line)
    for name, shape, params, layer in rows:
        out.append(f"{name:<{w1}}   {shape:<{w2}}   {params:>{w3}}")
        if "error" in layer:
            out.append(f"{'':<{w1}}   error: {layer['error']}")
    out.append(line)
    total = data["total_params"]
    out.append(f" Total params: {total:,} ({_human_bytes(total)})")
    out.append(
        f" Trainable params: {data['trainable_params']:,} "
        f"({_human_bytes(data['trainable_params'])})"
    )
    out.append(
        f" Non-trainable params: {data['non_trainable_params']:,} "
        f"({_human_bytes(data['non_trainable_params'])})"
    )
    return "\n".join(out)


def cmd_summary(args) -> int:
    project = _load(args.project)
    if project is None:
        return EXIT_UNREADABLE
    diags = _diagnostics(project)
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        _print_diagnostics(errors, args.project)
        return EXIT_INVALID
    project.graph.trusted_code = bool(getattr(args, "trust_code", False))
    from studio.engine.shapes import infer_shapes

    result = infer_shapes(project.graph)
    data = summary_data(project, result)
    if result.errors:
        lines = _node_lines(args.project)
        for node, message in result.errors.items():
            where = Path(args.project).name + (f", line {lines[node]}" if node in lines else "")
            _err(f"{where}: error: {node}: {message}")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_summary(data))
    return EXIT_INVALID if result.errors else EXIT_OK


def cmd_import(args) -> int:
    from studio.engine.importer import ModelImportError, import_model_file
    from studio.project import (
        PROJECT_SUFFIX,
        Project,
        ProjectError,
        project_basename,
        runs_dir,
        save_project,
    )

    source = Path(args.model)
    if args.output:
        out = Path(args.output)
    else:  # model.v2.keras -> model.v2.studio.json beside it
        out = source.with_name(source.name[: -len(source.suffix) or None] + PROJECT_SUFFIX)
    if not out.name.endswith(PROJECT_SUFFIX):
        out = out.with_name(out.name + PROJECT_SUFFIX) if out.suffix != ".json" else out
    if not out.parent.is_dir():
        _err(f"studio: cannot write {out}: the folder {out.parent} does not exist.")
        return EXIT_UNREADABLE
    try:
        graph = import_model_file(source)
    except ModelImportError as exc:
        _err(f"studio: {exc.message}")
        return EXIT_UNREADABLE
    project = Project(name=project_basename(out), graph=graph)
    loaded = 0
    if source.suffix.lower() in {".keras", ".h5", ".hdf5"} and not args.no_weights:
        from studio.engine.weights import save_weights, weights_from_model_file

        try:
            # The graph goes along for its custom layers' code, should it ever hold any
            # (an imported graph has none today: the importer refuses custom classes).
            weights = weights_from_model_file(source, graph)
        except Exception as exc:  # the graph is still useful without weights
            _err(f"studio: warning: the weights of {source.name} could not be read ({exc}).")
            weights = {}
        if weights:
            wpath = runs_dir(out) / "imported" / "weights.h5"
            save_weights(weights, wpath)
            project.weights = str(wpath.relative_to(out.parent))
            loaded = len(weights)
    try:
        save_project(project, out)
    except ProjectError as exc:
        _err(f"studio: {exc}")
        return EXIT_UNREADABLE
    except OSError as exc:
        _err(f"studio: cannot write {out}: {exc.strerror or exc}")
        return EXIT_UNREADABLE
    extra = f", weights of {loaded} layers in {project.weights}" if loaded else ""
    print(f"Imported {source.name}: {len(graph)} nodes -> {out}{extra}.")
    return EXIT_OK


def _trust_refused(project, args, path: str) -> bool:
    """True (after saying why) when the project holds code and ``--trust-code`` is missing;
    with the flag, the project's code may run."""
    code = getattr(project.graph, "code", None)
    if code and not getattr(args, "trust_code", False):
        _err(f"studio: {Path(path).name} contains custom code ({', '.join(code)}), which runs "
             "only when you pass --trust-code.")  # fmt: skip
        return True
    project.graph.trusted_code = bool(getattr(args, "trust_code", False))
    return False


_TRUST_HELP = "run the project's custom layers, losses and metrics (only for code you trust)"


def _load_valid(path: str):
    """(project, None), or (None, exit status) after saying why it cannot be used: unreadable
    (2) or with errors in its graph (1)."""
    project = _load(path)
    if project is None:
        return None, EXIT_UNREADABLE
    errors = [d for d in _diagnostics(project) if d.severity == "error"]
    if errors:
        _print_diagnostics(errors, path)
        return None, EXIT_INVALID
    return project, None


def _fmt_logs(logs: dict) -> str:
    return " - ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")


def cmd_train(args) -> int:
    """Train a project without a window, writing the same run folder as the window does."""
    project, failed = _load_valid(args.project)
    if project is None:
        return failed
    if _trust_refused(project, args, args.project):
        return EXIT_INVALID
    from studio.core.settings import check_settings, distribution_settings

    training_given = project.settings.setdefault("training", {})
    if not isinstance(training_given, dict):
        training_given = project.settings["training"] = {}
    distribution = distribution_settings(training_given.get("distribution"))
    if args.strategy is not None:  # this run only: the project file keeps its setting
        distribution["strategy"] = args.strategy.replace("-", "_")
    if args.cpu_replicas is not None:
        if args.cpu_replicas < 1:
            _err("studio: --cpu-replicas must be at least 1.")
            return EXIT_INVALID
        distribution["cpu_replicas"] = args.cpu_replicas
    training_given["distribution"] = distribution
    multi_worker = distribution["strategy"] == "multi_worker"
    bad = [d for d in check_settings(project.settings, project.graph) if d.severity == "error"]
    if not (project.settings.get("data") or {}).get("source"):
        _err(f"{Path(args.project).name}: error: data.source: the project has no training data; "
             "choose a source in the Data panel (see docs/training.md).")  # fmt: skip
        return EXIT_INVALID
    if bad:
        for d in bad:
            _err(f"{Path(args.project).name}: error: {d.param}: {d.message}")
        return EXIT_INVALID
    for key in ("epochs", "batch_size"):
        value = getattr(args, key)
        if value is not None and value < 1:
            _err(f"studio: --{key.replace('_', '-')} must be at least 1.")
            return EXIT_INVALID

    import signal
    import threading

    from studio.engine.training import Trainer
    from studio.project import project_to_dict
    from studio.project.runs import new_run_dir

    if args.run_dir:
        run_dir = Path(args.run_dir)
        # A multi-worker run folder is shared by the workers (and resumed from backup/).
        if (run_dir / "run.json").exists() and not (run_dir / "backup").is_dir() and (
            not multi_worker
        ):
            _err(f"studio: {run_dir} already holds a run; choose a new folder (a run folder is "
                 "reused only to resume an interrupted run with BackupAndRestore).")  # fmt: skip
            return EXIT_INVALID
    else:
        run_dir = new_run_dir(project.runs_dir)
    stop = threading.Event()
    tty = sys.stdout.isatty()
    state = {"epochs": 0, "steps": 0}

    def emit(event: dict) -> None:
        kind = event["type"]
        if kind == "start":
            state.update(epochs=event["epochs"], steps=event["steps"])
            print(f"Training {project.name}: {event['samples']:,} samples, "
                  f"{event['validation_samples']:,} for validation, "
                  f"{event['test_samples']:,} for testing; run folder {event['run_dir']}",
                  flush=True)  # fmt: skip
        elif kind == "device":
            print(f"Device: {event['text']}", flush=True)
            if event.get("strategy") and event.get("replicas", 1) > 1 or multi_worker:
                print(f"Training on {event.get('strategy')}", flush=True)
        elif kind == "batch" and tty:
            print(f"\rEpoch {event['epoch'] + 1}/{state['epochs']} "
                  f"batch {event['batch'] + 1}/{state['steps']} "
                  f"{_fmt_logs(event['logs'])}", end="", flush=True)  # fmt: skip
        elif kind == "epoch":
            lead = "\r" if tty else ""
            print(f"{lead}Epoch {event['epoch'] + 1}/{state['epochs']} - "
                  f"{event['seconds']:.1f} s - {_fmt_logs(event['logs'])}"
                  + (" (stopped)" if event.get("partial") else ""), flush=True)  # fmt: skip
        elif kind == "evaluation":
            print("Test: " + _fmt_logs(event["test"]), flush=True)

    def interrupt(signum, frame):  # Ctrl+C: stop after this batch and keep what was learnt
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _err("\nstudio: stopping after this batch (Ctrl+C again to abort)…")

    weights = project.weights_path if project.weights_path is not None else None
    if weights is not None and not weights.exists():
        _err(f"studio: the project's weights file {weights} does not exist; training starts "
             "from fresh weights.")  # fmt: skip
        weights = None
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        trainer = Trainer(
            project_to_dict(project),
            project.path.parent if project.path else None,
            run_dir,
            emit,
            overrides={"epochs": args.epochs, "batch_size": args.batch_size},
            weights=weights,
            stop=stop,
            trusted_code=project.graph.trusted_code,
        )
        result = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if result["type"] == "error":
        where = f" ({result['where']})" if result.get("where") else ""
        _err(f"studio: training failed{where}: {result['message']}")
        print(json.dumps({"status": "failed", "run_dir": str(run_dir),
                          "error": result["message"]}))  # fmt: skip
        return EXIT_INVALID
    summary = {
        "status": result["status"],
        "run_dir": str(run_dir),
        "epochs": sum(1 for e in result["history"] if not e.get("partial")),
        "seconds": round(result["seconds"], 2),
        "final": result["final"],
        "best": result["best"],
        "test": result["test"],
    }
    print(json.dumps(summary))
    return EXIT_OK


def _size_text(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


#: Exports that are not model files: a Python script and pictures of the graph.
OTHER_EXPORTS = ("python", "png", "svg")


def _export_other(args, project) -> int:
    """``--format python | png | svg``."""
    out = Path(args.output)
    if not out.parent.is_dir():
        _err(f"studio: export failed: the folder {out.parent} does not exist.")
        return EXIT_INVALID
    if args.format == "python":
        from studio.core.codegen import CodegenError, generate_script

        try:
            text = generate_script(project, style=args.style)
        except CodegenError as exc:
            _err(f"studio: export failed: {exc}")
            return EXIT_INVALID
        from studio.project.runs import write_text_atomic

        write_text_atomic(out, text)
    else:  # a picture of the graph, drawn as the canvas draws it
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from studio.ui.canvas.picture import render_project_picture

        render_project_picture(project, out, args.format)
    print(f"Exported {args.format} to {out} ({_size_text(out.stat().st_size)})")
    return EXIT_OK


def cmd_export(args) -> int:
    """Write the project as a model file, a Markdown summary, a Python script or a picture."""
    project, failed = _load_valid(args.project)
    if project is None:
        return failed
    if args.quantize and args.format != "tflite":
        _err("studio: --quantize applies to --format tflite only.")
        return EXIT_INVALID
    if args.format in OTHER_EXPORTS:  # text and pictures: the project's code does not run
        return _export_other(args, project)
    if _trust_refused(project, args, args.project):
        return EXIT_INVALID
    weights = None
    if args.run:
        weights = Path(args.run) / "weights.h5"
        if not weights.is_file():
            _err(f"studio: the run folder {args.run} has no weights.h5.")
            return EXIT_INVALID
    elif not args.fresh and project.weights_path is not None:
        weights = project.weights_path
        if not weights.exists():
            _err(f"studio: the project's weights file {weights} does not exist; exporting "
                 "fresh weights.")  # fmt: skip
            weights = None

    from studio.engine.export import ExportError, export_model
    from studio.project import project_to_dict

    try:
        result = export_model(
            project_to_dict(project),
            project.path.parent if project.path else None,
            args.format,
            args.output,
            weights=str(weights.resolve()) if weights is not None else None,
            quantize=args.quantize,
            trusted_code=project.graph.trusted_code,
        )
    except ExportError as exc:
        where = f" ({exc.where})" if exc.where else ""
        _err(f"studio: export failed{where}: {exc.message}")
        return EXIT_INVALID
    for layer, reason in result["skipped"].items():
        _err(f"studio: warning: the weights of '{layer}' were not loaded: {reason}.")
    print(f"Exported {args.format} to {result['path']} ({_size_text(result['bytes'])})")
    return EXIT_OK


def cmd_gui(args) -> int:
    """The editor window (``studio [PROJECT]``, ``studio --screenshot OUT.png [PROJECT]``)."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        if getattr(args, "screenshot", None):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
        else:
            _err(
                "studio: no display to open the editor on (neither DISPLAY nor "
                "WAYLAND_DISPLAY is set). Without one, use 'studio summary PROJECT', or "
                "'studio --screenshot OUT.png PROJECT' for a picture of the window."
            )
            return EXIT_UNREADABLE
    try:
        from studio.ui.app import run_gui
    except ImportError as exc:  # a broken Qt installation: say so, no traceback
        _err(f"studio: the editor window cannot start: {exc}")
        return EXIT_INTERNAL
    return run_gui(args.project, screenshot=getattr(args, "screenshot", None))


def version_lines() -> list[str]:
    """``studio --version``: Studio's, Python's, TensorFlow's, Keras' and Qt's versions, then
    the devices TensorFlow sees, one a line (what a bug report needs)."""
    import platform

    lines = [f"Studio {__version__}", f"Python {platform.python_version()} ({sys.executable})"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from studio.engine import about

        engine = about()
    except Exception as exc:  # a broken installation is what --version should show
        engine = None
        lines.append(f"TensorFlow/Keras: cannot be imported ({type(exc).__name__}: {exc})")
    else:
        lines += [f"TensorFlow {engine['tensorflow']}", f"Keras {engine['keras']}"]
    try:
        from studio.ui import qt_versions

        lines.append(qt_versions())
    except Exception as exc:
        lines.append(f"Qt: cannot be imported ({type(exc).__name__}: {exc})")
    if engine is not None:
        lines += [f"Device: {d}" for d in engine["devices"]]
    return lines


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print("\n".join(version_lines()), flush=True)
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="Build, train and export Keras networks visually."
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the versions of Studio, Python, TensorFlow, Keras and Qt, and the devices "
        "TensorFlow sees, then exit",
    )
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("validate", help="check a project; exit 1 on errors, 2 if unreadable")
    p.add_argument("project")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("summary", help="layers, output shapes and parameter counts")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.add_argument("--trust-code", action="store_true", help=_TRUST_HELP)
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("import", help="turn a .keras, .h5 or Keras JSON model into a project")
    p.add_argument("model")
    p.add_argument("-o", "--output", help="project file to write (*.studio.json)")
    p.add_argument("--no-weights", action="store_true", help="import the architecture only")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("train", help="train a project without a window; final metrics as JSON")
    p.add_argument("project")
    p.add_argument("--epochs", type=int, help="override the project's number of epochs")
    p.add_argument("--batch-size", type=int, help="override the project's batch size")
    p.add_argument("--run-dir", help="the run folder (default: a new one in <project>.runs/)")
    p.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multi-worker"),
        help="override the project's distribution strategy for this run: one device, all "
        "GPUs of this machine (mirrored), or several machines (multi-worker, reads TF_CONFIG; "
        "give every worker the same --run-dir to resume after a restart)",
    )
    p.add_argument(
        "--cpu-replicas",
        type=int,
        metavar="N",
        help="without a GPU, split the CPU into N logical devices (to try mirrored training)",
    )
    p.add_argument("--trust-code", action="store_true", help=_TRUST_HELP)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "export", help="write a Python script, .keras, .h5, SavedModel, TFLite, ONNX, PNG or SVG"
    )
    p.add_argument("project")
    p.add_argument(  # studio.engine.export.MODEL_FORMATS (importing it loads TensorFlow)
        "--format",
        required=True,
        choices=("keras", "h5", "weights", "savedmodel", "tflite", "onnx", "summary")
        + OTHER_EXPORTS,
    )
    p.add_argument("-o", "--output", required=True, help="the file (a folder for savedmodel)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--run", metavar="RUN_DIR", help="use this run folder's weights.h5")
    source.add_argument("--fresh", action="store_true", help="fresh weights, not the project's")
    p.add_argument("--quantize", choices=("float16", "dynamic"), help="TFLite quantisation")
    p.add_argument(
        "--style",
        choices=("functional", "sequential", "subclass"),
        default="functional",
        help="code style of --format python",
    )
    p.add_argument("--trust-code", action="store_true", help=_TRUST_HELP)
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = {"validate", "summary", "import", "train", "export"}
    if not argv or argv[0] == "--screenshot" or (
        argv[0] not in commands and not argv[0].startswith("-")
    ):
        gui = argparse.ArgumentParser(prog="studio", description="Open the Studio editor.")
        gui.add_argument("project", nargs="?", help="a *.studio.json project or a Keras model")
        gui.add_argument(
            "--screenshot", metavar="OUT.png", help="save a screenshot once shapes are shown, exit"
        )
        args = gui.parse_args(argv)
        handler = cmd_gui
    else:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_OK
        handler = args.func
    try:
        return handler(args)
    except KeyboardInterrupt:
        _err("studio: interrupted.")
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one sentence, no traceback
        _err(f"studio: unexpected error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
