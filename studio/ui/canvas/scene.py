"""The graph scene: the document's graph (or a nested one) as node and edge items.

The scene never changes the model directly. Gestures become commands pushed through
``document.push(in_graph(scene.path, command))``; the model then emits events and the scene
updates the items concerned. While a nested graph is shown, every event reaches the scene as
a change of the outer Model node, so the scene resynchronises by diffing model and items.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QMenu,
    QToolTip,
)

from studio.catalog import LayerSpec
from studio.core.commands import (
    AddNode,
    Command,
    Connect,
    Disconnect,
    Macro,
    MoveNodes,
    RemoveNodes,
    Rename,
    SetOutputs,
    in_graph,
)
from studio.core.graph import (
    INPUT_TYPE,
    MODEL_TYPE,
    Edge,
    Graph,
    GraphEvent,
    Node,
    Output,
)
from studio.core.layout import apply_layout
from studio.core.validation import validate
from studio.ui.canvas.clipboard import (
    MIME_NODES,
    parse_payload,
    paste_command,
    payload_text,
    selection_payload,
)
from studio.ui.canvas.items import EdgeItem, NodeItem, Port, WireItem
from studio.ui.canvas.style import (
    LAYOUT_X_GAP,
    LAYOUT_Y_GAP,
    NODE_W,
    SINGLE_PORT_Y,
    UNKNOWN_COLOR,
    Theme,
    category_color,
    count_text,
    key_param_items,
    outputs_text,
    pretrained_items,
    snake_case,
    text_on,
)

#: Mime type of a layer dragged from the palette; the data is the catalog type name (UTF-8).
MIME_LAYER = "application/x-studio-layer"
PASTE_OFFSET = 40.0
SCENE_EXTENT = 100_000.0
SHAPE_BATCH = 120  # node/edge items updated per turn of the event loop on big graphs


class GraphScene(QGraphicsScene):
    """Shows ``document.graph`` or the nested graph at :attr:`path`; turns gestures into
    commands.

    Signals:
        statusMessage(str): a sentence for the status bar (a refused edit's reason).
        selectionChangedNames(list): names of the selected nodes, in graph order.
        nodeActivated(str): a node was double-clicked (not a nested model).
        pathChanged(list): the nested graph shown changed (Model node names, outermost first).
    """

    statusMessage = Signal(str)
    selectionChangedNames = Signal(list)
    nodeActivated = Signal(str)
    pathChanged = Signal(list)
    # A Backbone node to expand into its layers (path of the graph shown, node name); the
    # window runs it on the engine, which knows the keras.applications model.
    expandBackboneRequested = Signal(list, str)

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.catalog = document.catalog
        trust_changed = getattr(document, "trustChanged", None)
        if trust_changed is not None:  # custom nodes look "not evaluated" until trusted
            trust_changed.connect(lambda _t: self._refresh_custom_nodes())
        self.theme = Theme(self.palette())
        self._path: list[str] = []
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._shapes = None
        self._shapes_pending = False
        self._shape_batches = None
        self._problem_nodes: set[str] = set()
        self._last_refusal = ""
        self._last_selection: list[str] = []
        self._syncing = False
        # Gesture state.
        self._wire: WireItem | None = None
        self._wire_from: tuple[str, str, Port] | None = None  # node, "in"/"out", port
        self._wire_detached: Edge | None = None
        self._wire_target: NodeItem | None = None
        self._drag_start: dict[str, QPointF] = {}
        self._drop_edge: EdgeItem | None = None
        self._paste_serial: tuple[str, int] = ("", 0)
        # Reusable blocks (studio.ui.blocks): extra node-menu entries, called as
        # hook(menu, node_name), and the inserter of palette types "block:<name>".
        self.menu_hooks: list = []
        self.block_inserter = None
        self.setSceneRect(QRectF(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        document.graphChanged.connect(self._on_graph_event)
        document.diagnosticsChanged.connect(self._on_diagnostics)
        document.refused.connect(self._on_refused)
        self.selectionChanged.connect(self._on_selection_changed)
        self.sync()

    # ================================================================== model access
    @property
    def path(self) -> list[str]:
        return list(self._path)

    @property
    def graph(self) -> Graph:
        return self.current_graph()

    def current_graph(self) -> Graph:
        """The graph shown: the document's graph or the nested one at :attr:`path`."""
        graph = self.document.graph
        for name in self._path:
            if name not in graph or graph.node(name).subgraph is None:
                return graph
            graph = graph.node(name).subgraph
        return graph

    def _valid_prefix(self, path: list[str]) -> list[str]:
        graph = self.document.graph
        out: list[str] = []
        for name in path:
            if name not in graph or graph.node(name).subgraph is None:
                break
            out.append(name)
            graph = graph.node(name).subgraph
        return out

    def push(self, command: Command, merge: bool = False) -> bool:
        """Push ``command`` on the graph shown; a refusal is re-emitted as ``statusMessage``."""
        self._last_refusal = ""
        ok = self.document.push(in_graph(self._path, command), merge)
        if not ok and self._last_refusal:
            self.statusMessage.emit(self._last_refusal)
        return ok

    def _on_refused(self, reason: str) -> None:
        self._last_refusal = reason

    # ================================================================== navigation
    def open_path(self, path: list[str]) -> None:
        """Show the nested graph reached by ``path`` ([] is the document's own graph)."""
        path = list(path)
        valid = self._valid_prefix(path)
        if valid != path:
            self.statusMessage.emit(f"'{'/'.join(path)}' is not a nested model.")
            path = valid
        if path == self._path:
            return
        self._cancel_wire()
        self._path = path
        self.rebuild()
        self.pathChanged.emit(list(path))
        for view in self.views():
            if hasattr(view, "fit_all"):
                view.fit_all()

    def go_up(self) -> None:
        if self._path:
            self.open_path(self._path[:-1])

    # ================================================================== building
    def rebuild(self) -> None:
        """Drop every item and build them again from the model."""
        self._cancel_wire()
        for item in list(self._edges.values()):
            self.removeItem(item)
        for item in list(self._nodes.values()):
            self.removeItem(item)
        self._edges.clear()
        self._nodes.clear()
        self._problem_nodes.clear()
        self.sync()

    def sync(self) -> None:
        """Make the items match the model (adds, removes, moves and refreshes), by diffing."""
        self._syncing = True
        try:
            graph = self.current_graph()
            names = {n.name for n in graph.nodes}
            model_edges = set(graph.edges)
            for edge in [e for e in self._edges if e not in model_edges
                         or e.src not in names or e.dst not in names]:  # fmt: skip
                self._remove_edge_item(edge)
            for name in [n for n in self._nodes if n not in names]:
                self._remove_node_item(name)
            for node in graph.nodes:
                item = self._nodes.get(node.name)
                if item is None:
                    item = NodeItem(node.name)
                    self._nodes[node.name] = item
                    item.setPos(node.position[0], node.position[1])
                    self.addItem(item)
                elif (item.pos().x(), item.pos().y()) != node.position:
                    item.setPos(node.position[0], node.position[1])
            for edge in graph.edges:
                if edge not in self._edges and edge.src in self._nodes and edge.dst in self._nodes:
                    self._add_edge_item(edge, update=False)
            outputs = self._output_map(graph)
            for node in graph.nodes:
                item = self._nodes[node.name]
                self._refresh_content(item, node, graph)
                item.set_output(node.name in outputs, outputs.get(node.name, "output"))
                self._apply_shape(item)
            for item in self._edges.values():
                self._apply_edge_label(item, update=False)
                item.update_path()
            self._apply_problems()
        finally:
            self._syncing = False
        self._on_selection_changed()

    def _add_edge_item(self, edge: Edge, update: bool = True) -> EdgeItem:
        src, dst = self._nodes[edge.src], self._nodes[edge.dst]
        item = EdgeItem(edge, src, dst)
        self._edges[edge] = item
        src.edges.add(item)
        dst.edges.add(item)
        self.addItem(item)
        if update:
            self._apply_edge_label(item, update=False)
            item.update_path()
        return item

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self._edges.pop(edge, None)
        if item is None:
            return
        item.src_item.edges.discard(item)
        item.dst_item.edges.discard(item)
        self.removeItem(item)

    def _remove_node_item(self, name: str) -> None:
        item = self._nodes.pop(name, None)
        if item is None:
            return
        for e in list(item.edges):
            self._remove_edge_item(e.edge)
        self._problem_nodes.discard(name)
        self.removeItem(item)

    # ------------------------------------------------------------------ node content
    def _ports(self, node: Node, spec: LayerSpec | None, item: NodeItem) -> tuple[list[Port], list[Port]]:
        in_counts: dict[str, int] = {}
        out_used: set[int] = set()
        for e in item.edges:
            if e.edge.dst == node.name:
                in_counts[e.edge.dst_port] = in_counts.get(e.edge.dst_port, 0) + 1
            if e.edge.src == node.name:
                out_used.add(e.edge.src_output)
        in_ports: list[Port] = []
        out_names: list[str] = []
        if node.type == MODEL_TYPE:
            sub = node.subgraph
            if sub is not None:
                for n in sub.nodes:
                    if n.type == INPUT_TYPE:
                        in_ports.append(Port(n.name, len(in_ports), 0.0))
                if sub.style == "sequential" and not sub.outputs:
                    out_names = ["output"]
                else:
                    out_names = [o.name or f"output_{i}" for i, o in enumerate(sub.outputs)]
        elif node.type == INPUT_TYPE:
            out_names = ["output"]
        elif spec is not None:
            for p in spec.inputs:
                in_ports.append(Port(p.name, len(in_ports), 0.0, p.variadic, p.optional))
            out_names = list(_output_names(spec, node))
        # Ports only an edge names (unknown types, stale ports) still get a dot.
        known = {p.name for p in in_ports}
        for port in sorted(in_counts):
            if port not in known:
                in_ports.append(Port(port, len(in_ports), 0.0, declared=False))
        # Constants given for an op's tensor port count as connected.
        for p in in_ports:
            p.count = in_counts.get(p.name, 0)
            if p.name in node.call_args:
                p.count += 1
                p.constant = _short(node.call_args[p.name])
        n_out = max([len(out_names)] + [i + 1 for i in out_used])
        out_ports = []
        for i in range(n_out):
            name = out_names[i] if i < len(out_names) else f"output_{i}"
            out_ports.append(Port(name, i, 0.0, declared=i < len(out_names), count=int(i in out_used)))
        return in_ports, out_ports

    def _refresh_content(self, item: NodeItem, node: Node, graph: Graph | None = None) -> None:
        spec = self.catalog.get(node.type)
        unknown = spec is None and node.type != MODEL_TYPE
        if unknown:
            color = QColor(UNKNOWN_COLOR)
        else:
            color = category_color(spec.category if spec else "Models")
        in_ports, out_ports = self._ports(node, spec, item)
        params = node.params
        if spec is not None and node.shared_with is None:
            # Required parameters read better with their values even when they are defaults.
            shown = {p.name: spec.defaults[p.name] for p in spec.required_params
                     if p.name in spec.defaults and spec.defaults[p.name] is not None}  # fmt: skip
            shown.update(params)
            params = shown
        items = key_param_items(params)
        if node.type in ("Backbone", "PreprocessInput") and spec is not None:
            items = pretrained_items(node.type, {**spec.defaults, **node.params})
        # A variadic port is one dot: say how many tensors it takes.
        if len(in_ports) == 1 and in_ports[0].variadic:
            n = in_ports[0].count
            items = [f"{n} input" + ("s" if n != 1 else "")] + items[:2]
        if node.shared_with:
            items = [f"shares {node.shared_with}"] + items[:2]
        if node.type == MODEL_TYPE and node.subgraph is not None:
            items = [f"{len(node.subgraph)} layers", node.subgraph.style] + items
            if node.block is not None:  # a use of a block definition (studio.core.blocks)
                items = [f"block {node.block}"] + items
        type_text = node.type
        tip = [f"<b>{node.type}</b> — {node.name}"]
        if unknown:
            tip.append("Unknown layer type: Studio's catalog does not know it.")
        elif spec is not None and spec.description:
            tip.append(spec.description)
        if node.type == MODEL_TYPE:
            tip.append("Double-click to open the nested model.")
        if self._not_evaluated(node.type):
            color = QColor(UNKNOWN_COLOR)
            tip.append("<i>code not evaluated: trust the project to run it</i>")
        item.set_content(
            type_name=type_text,
            header_color=color,
            header_text_color=text_on(color),
            unknown=unknown,
            is_model=node.type == MODEL_TYPE,
            in_ports=in_ports,
            out_ports=out_ports,
            param_items=items,
            tooltip="<br>".join(tip),
        )

    def _refresh_node(self, name: str) -> None:
        item = self._nodes.get(name)
        graph = self.current_graph()
        if item is None or name not in graph:
            return
        self._refresh_content(item, graph.node(name), graph)
        for e in item.edges:
            e.update_path()

    def _refresh_custom_nodes(self) -> None:
        for node in self.current_graph().nodes:
            if node.type.startswith("custom.") and node.name in self._nodes:
                self._refresh_node(node.name)
                self._apply_shape_to(node.name)

    def _not_evaluated(self, type_name: str) -> bool:
        """A custom layer of a project whose code may not run yet."""
        graph = self.document.graph
        return type_name.startswith("custom.") and not getattr(graph, "trusted_code", True)

    @staticmethod
    def _output_map(graph: Graph) -> dict[str, str]:
        out: dict[str, str] = {}
        for o in graph.outputs:
            label = o.name or "output"
            out[o.node] = label if o.node not in out else "outputs"
        return out

    # ================================================================== model events
    def _on_graph_event(self, event: GraphEvent) -> None:
        if event.kind == "code_changed":  # a custom layer's ports or parameters may differ
            self._refresh_custom_nodes()
            return
        if getattr(event, "path", ()):
            # An edit inside a nested graph; the outer Model node's change follows and
            # brings the view in line. A rename in the graph on screen keeps its item
            # (and the selection) instead of being replaced.
            if event.kind == "node_renamed" and tuple(self._path) == event.path:
                self._on_renamed(event.old, event.node)
            return
        if self._path:
            self._on_nested_event(event)
            return
        kind = event.kind
        if kind == "node_moved":
            item = self._nodes.get(event.node)
            if item is not None and event.node in self.document.graph:
                pos = self.document.graph.node(event.node).position
                if (item.pos().x(), item.pos().y()) != pos:
                    item.setPos(pos[0], pos[1])
        elif kind == "node_added":
            graph = self.document.graph
            if event.node in graph and event.node not in self._nodes:
                node = graph.node(event.node)
                item = NodeItem(node.name)
                item.setPos(node.position[0], node.position[1])
                self._nodes[node.name] = item
                self.addItem(item)
                self._refresh_content(item, node, graph)
                outputs = self._output_map(graph)
                item.set_output(node.name in outputs, outputs.get(node.name, "output"))
                self._apply_shape(item)
        elif kind == "node_removed":
            self._remove_node_item(event.node)
        elif kind == "node_changed":
            self._refresh_node(event.node)
            self._apply_shape_to(event.node)
        elif kind == "node_renamed":
            self._on_renamed(event.old, event.node)
        elif kind == "edge_added":
            e = event.edge
            if e not in self._edges and e.src in self._nodes and e.dst in self._nodes:
                self._add_edge_item(e)
                self._refresh_node(e.src)
                self._refresh_node(e.dst)
        elif kind == "edge_removed":
            e = event.edge
            if e in self._edges:
                self._remove_edge_item(e)
                self._refresh_node(e.src)
                self._refresh_node(e.dst)
        elif kind == "outputs_changed":
            outputs = self._output_map(self.document.graph)
            for name, item in self._nodes.items():
                item.set_output(name in outputs, outputs.get(name, "output"))
        else:  # reset and anything new
            self.sync()

    def _on_nested_event(self, event: GraphEvent) -> None:
        top = self._path[0]
        if event.kind == "node_renamed" and event.old == top:
            self._path[0] = event.node
            self.pathChanged.emit(list(self._path))
            return
        relevant = event.kind in ("reset", "node_removed") or event.node == top
        if not relevant:
            return
        valid = self._valid_prefix(self._path)
        if valid != self._path:
            self._path = valid
            self.rebuild()
            self.pathChanged.emit(list(self._path))
            return
        self.sync()

    def _on_renamed(self, old: str, new: str) -> None:
        item = self._nodes.pop(old, None)
        if item is None:
            self.sync()
            return
        item.name = new
        self._nodes[new] = item
        for e_item in list(item.edges):
            e = e_item.edge
            self._edges.pop(e, None)
            e2 = Edge(new if e.src == old else e.src, e.src_output,
                      new if e.dst == old else e.dst, e.dst_port, e.slot)  # fmt: skip
            e_item.edge = e2
            self._edges[e2] = e_item
        if old in self._problem_nodes:
            self._problem_nodes.discard(old)
            self._problem_nodes.add(new)
        graph = self.current_graph()
        # Sharers' texts name the owner.
        for node in graph.nodes:
            if node.shared_with == new and node.name in self._nodes:
                self._refresh_node(node.name)
        self._refresh_node(new)
        self._apply_shape(item)
        self._on_selection_changed()

    # ================================================================== shapes & problems
    def set_shapes(self, result) -> None:
        """Show a shape-inference result (duck-typed: ``result.nodes[name]`` with
        ``outputs``, ``params``, ``error``, ``blocked_by``, ``warnings``); None forgets it."""
        self._shapes = result
        self._shapes_pending = False
        self._shape_batches = self._shape_updates()
        if len(self._nodes) + len(self._edges) <= SHAPE_BATCH:
            for _ in self._shape_batches:
                pass
            self._shape_batches = None
        else:
            # A big graph gets its new shapes in slices, one per turn of the event loop,
            # so that the window never stalls while a thousand labels change.
            self._apply_shape_batch()

    def _shape_updates(self):
        count = 0
        for item in list(self._nodes.values()):
            if item.scene() is self:
                self._apply_shape(item)
            count += 1
            if count % SHAPE_BATCH == 0:
                yield
        for item in list(self._edges.values()):
            if item.scene() is self:
                self._apply_edge_label(item)
            count += 1
            if count % SHAPE_BATCH == 0:
                yield
        self._apply_problems()

    def _apply_shape_batch(self) -> None:
        batches = self._shape_batches
        if batches is None:
            return
        try:
            next(batches)
        except StopIteration:
            self._shape_batches = None
            return
        QTimer.singleShot(0, lambda b=batches: self._apply_shape_batch() if b is self._shape_batches else None)

    def set_shapes_pending(self, pending: bool = True) -> None:
        """While TensorFlow loads, nodes without shapes say "shapes pending"."""
        self._shapes_pending = pending
        for item in self._nodes.values():
            self._apply_shape(item)

    @property
    def shapes(self):
        return self._shapes

    def _info(self, name: str):
        result = self._shapes
        if result is None:
            return None
        nodes = getattr(result, "nodes", None) or {}
        key = "/".join(self._path + [name]) if self._path else name
        return nodes.get(key)

    def _apply_shape_to(self, name: str) -> None:
        item = self._nodes.get(name)
        if item is not None:
            self._apply_shape(item)
            for e in item.edges:
                if e.src_item is item:
                    self._apply_edge_label(e)

    def _apply_shape(self, item: NodeItem) -> None:
        if self._not_evaluated(item.type_name):
            item.set_shape("not evaluated", "not_evaluated", "")
            return
        info = self._info(item.name)
        if info is None:
            if self._shapes_pending:
                item.set_shape("shapes pending", "pending", "")
            elif self._path and self._shapes is not None:
                item.set_shape("shape: —", "unknown", "")
            else:
                item.set_shape("shape: …", "unknown", "")
            return
        params = getattr(info, "params", 0) or 0
        count = f"{count_text(params)} params" if params else ""
        if getattr(info, "error", None):
            item.set_shape("shape error", "error", count)
        elif getattr(info, "blocked_by", None):
            item.set_shape(f"after {info.blocked_by}'s error", "blocked", count)
        elif getattr(info, "not_evaluated", None):  # after a custom layer that has not run
            item.set_shape("waits for custom code", "unknown", count)
        elif getattr(info, "outputs", None):
            item.set_shape(outputs_text(info.outputs), "ok", count)
        else:
            item.set_shape("shape: ?", "unknown", count)

    def _apply_edge_label(self, item: EdgeItem, update: bool = True) -> None:
        info = self._info(item.edge.src)
        text = ""
        e = item.edge
        # One tensor into several ports of one node (query and value) is labelled once.
        twins = [o.edge for o in item.src_item.edges
                 if o.edge.src == e.src and o.edge.src_output == e.src_output and o.edge.dst == e.dst]  # fmt: skip
        if min(twins, default=e) != e:
            info = None
        outputs = getattr(info, "outputs", None) if info is not None else None
        if outputs and 0 <= item.edge.src_output < len(outputs) and info.error is None:
            spec = outputs[item.edge.src_output]
            text = outputs_text([spec])
        if update:
            item.set_label(text)
        else:
            item.label_text = text

    def _on_diagnostics(self, _diagnostics=None) -> None:
        self._apply_problems()

    def _apply_problems(self) -> None:
        problems: dict[str, list[tuple[str, str]]] = {}
        if self._path:
            try:
                diags = validate(self.current_graph(), self.catalog)
            except Exception:  # noqa: BLE001 - a badge is not worth a crash
                diags = []
        else:
            diags = self.document.diagnostics
        for d in diags:
            if d.node is not None and d.node in self._nodes:
                problems.setdefault(d.node, []).append((d.severity, d.message))
        if self._shapes is not None:
            for name in self._nodes:
                info = self._info(name)
                if info is None:
                    continue
                if getattr(info, "error", None):
                    problems.setdefault(name, []).append(("error", info.error))
                for w in getattr(info, "warnings", None) or []:
                    problems.setdefault(name, []).append(("warning", w))
        for name, item in self._nodes.items():
            if item.unknown and name not in problems:
                problems[name] = [("error", f"Unknown layer type '{item.type_name}'.")]
        for name in self._problem_nodes - set(problems):
            item = self._nodes.get(name)
            if item is not None:
                item.set_problems([])
        for name, probs in problems.items():
            self._nodes[name].set_problems(probs)
        self._problem_nodes = set(problems)

    # ================================================================== selection
    def node_item(self, name: str) -> NodeItem | None:
        return self._nodes.get(name)

    def edge_item(self, edge: Edge) -> EdgeItem | None:
        return self._edges.get(edge)

    def node_items(self) -> list[NodeItem]:
        return list(self._nodes.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def port_scene_pos(self, node: str, port: str | int, is_output: bool) -> QPointF:
        """Scene position of input ``port`` (a name) or output ``port`` (an index) of ``node``."""
        item = self._nodes[node]
        if is_output:
            return item.output_pos(int(port))
        if isinstance(port, int):
            return item.input_pos(item.in_ports[port].name if port < len(item.in_ports) else "")
        return item.input_pos(port)

    def selected_names(self) -> list[str]:
        """Names of the selected nodes, in graph order."""
        graph = self.current_graph()
        chosen = {i.name for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [n.name for n in graph.nodes if n.name in chosen]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, names: list[str]) -> None:
        wanted = set(names)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for name in wanted:
                item = self._nodes.get(name)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self._on_selection_changed()

    def select_all(self) -> None:
        self.blockSignals(True)
        try:
            for item in self._nodes.values():
                item.setSelected(True)
        finally:
            self.blockSignals(False)
        self._on_selection_changed()

    def _on_selection_changed(self) -> None:
        if self._syncing:
            return
        names = self.selected_names()
        if names != self._last_selection:
            self._last_selection = names
            self.selectionChangedNames.emit(names)

    def center_on_node(self, name: str) -> None:
        item = self._nodes.get(name)
        if item is None:
            return
        for view in self.views():
            view.centerOn(item.sceneBoundingRect().center())

    def items_rect(self, selected_only: bool = False) -> QRectF:
        rect = QRectF()
        for item in self._nodes.values():
            if not selected_only or item.isSelected():
                rect = rect.united(item.mapRectToScene(item.body_rect()))
        return rect

    # ================================================================== edit operations
    def add_node(
        self,
        type_name: str,
        pos: QPointF,
        into_edge: Edge | None = None,
        connect_from: tuple[str, int] | None = None,
    ) -> str | None:
        """Add a node of ``type_name`` with its top-left at ``pos``, as one undo step.

        With ``into_edge`` the node goes in the middle of that connection; with
        ``connect_from`` (a node name and output index) that output feeds its first input.
        Returns the new node's name, or None if refused."""
        if type_name.startswith("block:") and self.block_inserter is not None:
            return self.block_inserter(type_name.removeprefix("block:"), (pos.x(), pos.y()))
        spec = self.catalog.get(type_name)
        if spec is None and type_name != MODEL_TYPE:
            self.statusMessage.emit(f"Unknown layer type '{type_name}'.")
            return None
        graph = self.current_graph()
        name = graph.unique_name(snake_case(type_name))
        node = Node(name, type_name, params=dict(spec.starter) if spec else {},
                    position=(round(pos.x(), 1), round(pos.y(), 1)))  # fmt: skip
        if type_name == MODEL_TYPE:
            node.subgraph = Graph(name)
        command: Command = AddNode(node)
        if into_edge is not None and spec is not None and spec.inputs and into_edge in graph.edges:
            port = spec.inputs[0].name
            command = Macro(f"Insert {name}", [
                Disconnect(into_edge),
                AddNode(node),
                Connect(Edge(into_edge.src, into_edge.src_output, name, port, 0)),
                Connect(Edge(name, 0, into_edge.dst, into_edge.dst_port, into_edge.slot)),
            ])  # fmt: skip
        elif connect_from is not None and spec is not None and spec.inputs:
            src, index = connect_from
            command = Macro(f"Add {name}", [
                AddNode(node), Connect(Edge(src, index, name, spec.inputs[0].name, 0)),
            ])  # fmt: skip
        if not self.push(command):
            return None
        self.select_nodes([name])
        return name

    def delete_selection(self) -> bool:
        names = self.selected_names()
        edges = self.selected_edges()
        if not names and not edges:
            return False
        graph = self.current_graph()
        doomed = set(names)
        cmds: list[Command] = [Disconnect(e) for e in edges if e.src not in doomed and e.dst not in doomed]
        if names:
            cmds.append(RemoveNodes(graph, names))
        if len(cmds) == 1:
            command = cmds[0]
        else:
            parts = []
            if names:
                parts.append(f"{len(names)} node" + ("s" if len(names) != 1 else ""))
            if edges:
                parts.append(f"{len(edges)} connection" + ("s" if len(edges) != 1 else ""))
            command = Macro("Delete " + " and ".join(parts), cmds)
        return self.push(command)

    def _payload(self) -> dict | None:
        names = self.selected_names()
        if not names:
            return None
        try:
            return selection_payload(self.current_graph(), names)
        except Exception as exc:  # noqa: BLE001 - an unsavable parameter value
            self.statusMessage.emit(f"Cannot copy: {exc}")
            return None

    def copy_selection(self) -> bool:
        payload = self._payload()
        if payload is None:
            return False
        text = payload_text(payload)
        mime = QMimeData()
        mime.setData(MIME_NODES, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_serial = (text, 0)
        n = len(payload["graph"]["nodes"])
        self.statusMessage.emit(f"Copied {n} node" + ("s" if n != 1 else ""))
        return True

    def cut_selection(self) -> bool:
        payload = self._payload()
        if payload is None:
            return False
        if not self.copy_selection():
            return False
        text = payload_text(payload)
        ok = self.delete_selection()
        # Pasting what was cut puts it back where it was.
        self._paste_serial = (text, -1)
        return ok

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        text = ""
        if mime is not None:
            if mime.hasFormat(MIME_NODES):
                text = bytes(mime.data(MIME_NODES)).decode("utf-8", "replace")
            elif mime.hasText():
                text = mime.text()
        copied = parse_payload(text) if text else None
        if copied is None:
            self.statusMessage.emit("There are no nodes on the clipboard to paste.")
            return []
        last_text, k = self._paste_serial
        k = k + 1 if last_text == text else 1
        self._paste_serial = (text, k)
        return self._paste_graph(copied, k * PASTE_OFFSET)

    def duplicate(self) -> list[str]:
        payload = self._payload()
        if payload is None:
            return []
        copied = parse_payload(payload_text(payload))
        if copied is None:
            return []
        return self._paste_graph(copied, PASTE_OFFSET)

    def _paste_graph(self, copied: Graph, offset: float) -> list[str]:
        made = paste_command(self.current_graph(), copied, (offset, offset))
        if made is None:
            return []
        command, names = made
        if not self.push(command):
            return []
        self.select_nodes(names)
        return names

    def rename_node(self, old: str, new: str) -> bool:
        new = new.strip()
        if new == old:
            return True
        return self.push(Rename(old, new))

    def rename_selected(self) -> bool:
        names = self.selected_names()
        if len(names) != 1:
            if names:
                self.statusMessage.emit("Select one node to rename.")
            return False
        for view in self.views():
            if hasattr(view, "begin_rename"):
                view.begin_rename(names[0])
                return True
        return False

    def auto_layout(self) -> bool:
        graph = self.current_graph()
        if not len(graph):
            return False
        command = apply_layout(graph, LAYOUT_X_GAP, LAYOUT_Y_GAP)
        ok = self.push(command)
        if ok:
            for view in self.views():
                if hasattr(view, "fit_all"):
                    view.fit_all()
        return ok

    def is_output(self, name: str) -> bool:
        return any(o.node == name for o in self.current_graph().outputs)

    def mark_as_output(self, name: str, on: bool | None = None, index: int = 0) -> bool:
        """Make ``name`` (its output ``index``) a model output, or stop it being one;
        ``on=None`` toggles."""
        graph = self.current_graph()
        if name not in graph:
            return False
        current = list(graph.outputs)
        marked = any(o.node == name for o in current)
        on = not marked if on is None else on
        if on == marked:
            return False
        if on:
            outputs = current + [Output(name, index)]
            text = f"Mark {name} as output"
        else:
            outputs = [o for o in current if o.node != name]
            text = f"Unmark output {name}"
        return self.push(SetOutputs(outputs, text))

    def open_nested(self, name: str) -> bool:
        graph = self.current_graph()
        if name in graph and graph.node(name).subgraph is not None:
            self.open_path(self._path + [name])
            return True
        return False

    def disconnect_edges(self, edges: list[Edge]) -> bool:
        if not edges:
            return False
        cmds = [Disconnect(e) for e in edges]
        return self.push(cmds[0] if len(cmds) == 1 else Macro(f"Disconnect {len(cmds)} connections", cmds))

    def connect_ports(self, src: str, out_index: int, dst: str, port: str) -> bool:
        """Connect output ``out_index`` of ``src`` to input ``port`` of ``dst`` (the next free
        slot of a variadic port)."""
        return self.push(Connect(Edge(src, out_index, dst, port, self._next_slot(dst, port))))

    def _next_slot(self, dst: str, port: str) -> int:
        item = self._nodes.get(dst)
        p = item.input_port(port) if item is not None else None
        if p is None or not p.variadic:
            return 0
        slots = [e.slot for e in self.current_graph().in_edges(dst) if e.dst_port == port]
        return max(slots) + 1 if slots else 0

    # ================================================================== context menu
    def build_context_menu(self, scene_pos: QPointF, parent=None) -> QMenu:
        """The menu for a right click at ``scene_pos`` (a node, a connection, or the canvas)."""
        menu = QMenu(parent)
        item = self._item_at(scene_pos)
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.select_nodes([item.name])
            name = item.name
            self._add_action(menu, "Rename", self.rename_selected, "F2")
            self._add_action(menu, "Duplicate", self.duplicate, "Ctrl+D")
            self._add_action(menu, "Delete", self.delete_selection, "Del")
            menu.addSeparator()
            if self.is_output(name):
                self._add_action(menu, "Unmark as output", lambda: self.mark_as_output(name, False))
            else:
                self._add_action(menu, "Mark as output", lambda: self.mark_as_output(name, True))
            if item.is_model:
                self._add_action(menu, "Open nested model", lambda: self.open_nested(name))
            if name in self.current_graph() and self.current_graph().node(name).type == "Backbone":
                self._add_action(menu, "Expand into Layers",
                                 lambda: self.expandBackboneRequested.emit(self.path, name))  # fmt: skip
            menu.addSeparator()
            self._add_action(menu, "Copy", self.copy_selection, "Ctrl+C")
            self._add_action(menu, "Cut", self.cut_selection, "Ctrl+X")
            for hook in self.menu_hooks:
                hook(menu, name)
        elif isinstance(item, EdgeItem):
            edge = item.edge
            self._add_action(menu, "Disconnect", lambda: self.disconnect_edges([edge]))
        else:
            self._add_action(menu, "Add layer…",
                             lambda: self._quick_add_at(scene_pos), "Tab")  # fmt: skip
            act = self._add_action(menu, "Paste", self.paste, "Ctrl+V")
            mime = QGuiApplication.clipboard().mimeData()
            act.setEnabled(bool(mime and (mime.hasFormat(MIME_NODES) or mime.hasText())))
            self._add_action(menu, "Arrange nodes", self.auto_layout, "Ctrl+L")
            self._add_action(menu, "Select all", self.select_all, "Ctrl+A")
            if self._path:
                menu.addSeparator()
                self._add_action(menu, "Back to outer model", self.go_up)
        return menu

    @staticmethod
    def _add_action(menu: QMenu, text: str, slot, shortcut: str = "") -> QAction:
        action = menu.addAction(text)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _=False: slot())
        return action

    def _quick_add_at(self, scene_pos: QPointF, connect_from: tuple[str, int] | None = None) -> None:
        for view in self.views():
            if hasattr(view, "open_quick_add"):
                view.open_quick_add(scene_pos, connect_from)
                return

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        parent = self.views()[0] if self.views() else None
        menu = self.build_context_menu(event.scenePos(), parent)
        menu.exec(event.screenPos())
        event.accept()

    # ================================================================== hit testing
    def _item_at(self, pos: QPointF) -> QGraphicsItem | None:
        for item in self.items(pos):
            if isinstance(item, (NodeItem, EdgeItem)):
                return item
            parent = item.parentItem()
            if isinstance(parent, NodeItem):
                return parent
        return None

    def _node_at(self, pos: QPointF) -> NodeItem | None:
        item = self._item_at(pos)
        return item if isinstance(item, NodeItem) else None

    def _port_near(self, pos: QPointF, kind: str | None = None) -> tuple[NodeItem, str, Port] | None:
        """The port nearest ``pos`` (optionally only "in" or "out" ports)."""
        best = None
        best_d = None
        area = QRectF(pos.x() - 14, pos.y() - 14, 28, 28)
        for item in self.items(area):
            if not isinstance(item, NodeItem):
                continue
            local = item.mapFromScene(pos)
            for k, ports, x in (("in", item.in_ports, 0.0), ("out", item.out_ports, NODE_W)):
                if kind is not None and k != kind:
                    continue
                for p in ports:
                    dx, dy = local.x() - x, local.y() - p.y
                    d = dx * dx + dy * dy
                    if d <= 12 * 12 and (best_d is None or d < best_d):
                        best, best_d = (item, k, p), d
        return best

    def _edge_near(self, pos: QPointF) -> EdgeItem | None:
        for item in self.items(QRectF(pos.x() - 4, pos.y() - 4, 8, 8)):
            if isinstance(item, EdgeItem):
                return item
        return None

    def helpEvent(self, event) -> None:  # noqa: N802
        hit = self._port_near(event.scenePos())
        if hit is not None:
            item, kind, port = hit
            if kind == "in":
                text = f"input '{port.name}' of {item.name}"
                if port.variadic:
                    text += f" (takes several; {port.count} connected)"
                elif port.optional:
                    text += " (optional)"
            else:
                text = f"output {port.index} '{port.name}' of {item.name}"
                info = self._info(item.name)
                outs = getattr(info, "outputs", None) if info is not None else None
                if outs and port.index < len(outs):
                    text += f": {outputs_text([outs[port.index]])}"
            QToolTip.showText(event.screenPos(), text)
            event.accept()
            return
        super().helpEvent(event)

    # ================================================================== mouse
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self._port_near(event.scenePos())
            if hit is not None and self._start_wire(hit, event.scenePos()):
                event.accept()
                return
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                # Shift-click adds to the selection like Ctrl-click.
                event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = {i.name: i.pos() for i in self.selectedItems() if isinstance(i, NodeItem)}

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire is not None:
            self._update_wire(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_wire(event.scenePos())
            event.accept()
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            event.setModifiers(event.modifiers() | Qt.KeyboardModifier.ControlModifier)
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._drag_start:
            self._commit_move()

    def _commit_move(self) -> None:
        start, self._drag_start = self._drag_start, {}
        graph = self.current_graph()
        moved: dict[str, tuple[float, float]] = {}
        for name in start:
            item = self._nodes.get(name)
            if item is None or name not in graph:
                continue
            pos = (round(item.pos().x(), 1), round(item.pos().y(), 1))
            if pos != graph.node(name).position:
                moved[name] = pos
        if moved:
            if not self.push(MoveNodes(moved)):
                self.sync()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseDoubleClickEvent(event)
            return
        pos = event.scenePos()
        item = self._item_at(pos)
        if isinstance(item, NodeItem):
            if item.port_at(item.mapFromScene(pos)) is not None:
                event.accept()
                return
            if item.name_rect().contains(item.mapFromScene(pos)):
                self.select_nodes([item.name])
                self.rename_selected()
            elif item.is_model:
                self.open_nested(item.name)
            else:
                self.nodeActivated.emit(item.name)
            event.accept()
            return
        if item is None:
            self._quick_add_at(pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ------------------------------------------------------------------ wires
    def _start_wire(self, hit: tuple[NodeItem, str, Port], pos: QPointF) -> bool:
        item, kind, port = hit
        self._wire_detached = None
        if kind == "in" and not port.variadic:
            # Picking up the end of an existing connection: drag it elsewhere or off.
            existing = [e.edge for e in item.edges
                        if e.edge.dst == item.name and e.edge.dst_port == port.name]  # fmt: skip
            if existing:
                self._wire_detached = existing[0]
                src_item = self._nodes[existing[0].src]
                src_port = src_item.output_port(existing[0].src_output)
                if src_port is None:
                    return False
                item, kind, port = src_item, "out", src_port
        self._wire_from = (item.name, kind, port)
        self._wire = WireItem(self.theme.accent)
        self.addItem(self._wire)
        if self._wire_detached is not None:
            self._edges[self._wire_detached].setOpacity(0.25)
        self._update_wire(pos)
        return True

    def _wire_anchor(self) -> QPointF:
        name, kind, port = self._wire_from
        item = self._nodes[name]
        return item.output_pos(port.index) if kind == "out" else item.input_pos(port.name)

    def _update_wire(self, pos: QPointF) -> None:
        if self._wire is None or self._wire_from is None or self._wire_from[0] not in self._nodes:
            return
        _name, kind, _port = self._wire_from
        want = "in" if kind == "out" else "out"
        hit = self._port_near(pos, want)
        target = hit[0] if hit else None
        if self._wire_target is not None and self._wire_target is not target:
            self._wire_target.set_highlight(None)
        self._wire_target = target
        end = pos
        if hit is not None:
            t_item, t_kind, t_port = hit
            t_item.set_highlight((t_kind, t_port.index))
            end = t_item.input_pos(t_port.name) if t_kind == "in" else t_item.output_pos(t_port.index)
        self._wire.set_ends(self._wire_anchor(), end, from_output=kind == "out")

    def _cancel_wire(self) -> None:
        if self._wire is not None:
            self.removeItem(self._wire)
        if self._wire_target is not None:
            self._wire_target.set_highlight(None)
        if self._wire_detached is not None and self._wire_detached in self._edges:
            self._edges[self._wire_detached].setOpacity(1.0)
        self._wire = None
        self._wire_from = None
        self._wire_target = None
        self._wire_detached = None

    @property
    def is_wiring(self) -> bool:
        return self._wire is not None

    def _finish_wire(self, pos: QPointF) -> None:
        start = self._wire_from
        detached = self._wire_detached
        self._cancel_wire()
        if start is None:
            return
        name, kind, port = start
        want = "in" if kind == "out" else "out"
        hit = self._port_near(pos, want)
        if hit is None and kind == "out":
            # Released on a node's body: its first free input.
            node = self._node_at(pos)
            if node is not None and node.name != name:
                free = [p for p in node.in_ports if p.variadic or p.count == 0]
                if free:
                    hit = (node, "in", free[0])
                elif node.in_ports:
                    # Let the model say why (the input is already fed by another layer).
                    first = node.in_ports[0]
                    hit = (node, "in", first)
                else:
                    self.statusMessage.emit(f"'{node.name}' takes no inputs.")
                    return
        if hit is None:
            if detached is not None:
                self.push(Disconnect(detached))
            elif kind == "out" and self._item_at(pos) is None:
                # Released on the canvas: pick a layer to add there, fed by this output.
                self._quick_add_at(QPointF(pos.x(), pos.y() - SINGLE_PORT_Y), (name, port.index))
            return
        t_item, _t_kind, t_port = hit
        if kind == "out":
            src, out_index, dst, dst_port = name, port.index, t_item.name, t_port.name
        else:
            src, out_index, dst, dst_port = t_item.name, t_port.index, name, port.name
        if detached is not None:
            if (dst, dst_port) == (detached.dst, detached.dst_port):
                return  # dropped back where it was
            edge = Edge(src, out_index, dst, dst_port, self._next_slot(dst, dst_port))
            self.push(Macro(f"Reconnect {src} → {dst}", [Disconnect(detached), Connect(edge)]))
            return
        self.connect_ports(src, out_index, dst, dst_port)

    # ================================================================== drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasFormat(MIME_LAYER):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if not event.mimeData().hasFormat(MIME_LAYER):
            event.ignore()
            return
        edge = self._edge_near(event.scenePos()) if self._node_at(event.scenePos()) is None else None
        type_name = bytes(event.mimeData().data(MIME_LAYER)).decode("utf-8", "replace")
        spec = self.catalog.get(type_name)
        if edge is not None and (spec is None or not spec.inputs):
            edge = None
        if edge is not self._drop_edge:
            if self._drop_edge is not None and self._drop_edge.scene() is self:
                self._drop_edge.setSelected(False)
            self._drop_edge = edge
            if edge is not None:
                edge.setSelected(True)
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        if self._drop_edge is not None and self._drop_edge.scene() is self:
            self._drop_edge.setSelected(False)
        self._drop_edge = None
        event.accept()

    def dropEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if not mime.hasFormat(MIME_LAYER):
            event.ignore()
            return
        type_name = bytes(mime.data(MIME_LAYER)).decode("utf-8", "replace").strip()
        pos = event.scenePos()
        into = None
        if self._node_at(pos) is None:
            edge_item = self._edge_near(pos)
            into = edge_item.edge if edge_item is not None else None
        self._drop_edge = None
        self.add_node(type_name, pos, into)
        event.acceptProposedAction()

    # ================================================================== palette
    def event(self, event) -> bool:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.set_palette_theme(self.palette())
        return super().event(event)

    def set_palette_theme(self, palette: QPalette) -> None:
        self.theme = Theme(palette)
        for item in self.items():
            item.update()
        self.update()

    def refresh_fonts(self) -> None:
        """Lay the nodes out again after :meth:`Fonts.set_size` (Preferences)."""
        for item in self._nodes.values():
            item.prepareGeometryChange()
            item.relayout()
            item.update()
        for edge in self._edges.values():
            edge.update_path()
        self.update()


def _short(value, limit: int = 12) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output_names(spec: LayerSpec, node: Node) -> tuple[str, ...]:
    """Output names for the node's parameters and call arguments (rules may read either)."""
    for rule in spec.output_rules:
        key = rule.get("param")
        if rule.get("call_param"):
            cp = spec.call_param(key)
            value = node.call_args.get(key, cp.default if cp is not None else None)
        else:
            value = node.params.get(key, spec.defaults.get(key))
        if value == rule.get("value"):
            return tuple(rule.get("outputs", ()))
    return spec.outputs


__all__ = ["GraphScene", "MIME_LAYER", "MIME_NODES"]
