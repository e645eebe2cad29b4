// The builder: the graph on a canvas (@xyflow/react), palette, node inspector, save, run, watch.
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { ApiError } from "../api/client";
import { api, type Block, type CredentialRef, type Graph, type NodeExecution, type Run } from "../api/endpoints";
import { isTerminal, watchRun, type RunWatcher } from "../live";
import { adoptNewGraph, Link, navigate, setNavigationGuard, useDocumentTitle, useLocation } from "../router";
import { SchemaForm } from "../SchemaForm";
import { CredentialsInputs, credentialsFields, draftCredentialsSchema } from "../CredentialsPicker";
import { ErrorBox, errorText, preview, Spinner, StatusBadge, toast, useAsync } from "../ui";
import { ReviewNotice } from "../pages/Runs";
import { Inspector } from "./Inspector";
import {
  errorsByNode,
  flowToGraph,
  graphToFlow,
  initialDefaults,
  isNoteBlock,
  linkToEdge,
  newId,
  TOOL_FIELD,
  TOOL_PREFIX,
  toolName,
  withLinked,
  type BuilderNode,
  type JsonSchema,
} from "./model";
import { nodeTypes } from "./Nodes";
import { BLOCK_MIME, Palette } from "./Palette";

export default function Builder({ graphId }: { graphId: string | null }) {
  const blocks = useAsync(() => api.blocks(), []);
  // Loaded once: another graph is another Builder (see builderKey).
  const graph = useAsync(() => (graphId ? api.graph(graphId) : Promise.resolve(null)), []);
  if (blocks.error) return <ErrorBox error={blocks.error} retry={blocks.reload} />;
  if (graph.error) return <ErrorBox error={graph.error} retry={graph.reload} />;
  if (!blocks.data || graph.loading || graph.data === undefined) return <Spinner label="Loading the graph…" />;
  return (
    <ReactFlowProvider>
      <Editor blocks={blocks.data} initial={graph.data} />
    </ReactFlowProvider>
  );
}

type Snapshot = { nodes: BuilderNode[]; edges: Edge[] };

function Editor({ blocks, initial }: { blocks: Block[]; initial: Graph | null }) {
  const blockMap = useMemo(() => new Map(blocks.map((b) => [b.id, b])), [blocks]);
  const start = useMemo(() => (initial ? graphToFlow(initial, blockMap) : { nodes: [], edges: [] }), [initial, blockMap]);
  const [nodes, setNodes] = useState<BuilderNode[]>(start.nodes);
  const [edges, setEdges] = useState<Edge[]>(start.edges);
  const [saved, setSaved] = useState<Graph | null>(initial);
  const [name, setName] = useState(initial?.name ?? "New agent");
  const [description] = useState(initial?.description ?? "");
  const [dirty, setDirty] = useState(!initial);
  const [saving, setSaving] = useState(false);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [showPalette, setShowPalette] = useState(true);
  const [problems, setProblems] = useState<string[]>([]);
  const [runOpen, setRunOpen] = useState(false);
  const [run, setRun] = useState<Run | null>(null);
  const [transport, setTransport] = useState<string>("");
  const flow = useReactFlow<BuilderNode>();
  const wrapper = useRef<HTMLDivElement>(null);
  const { query } = useLocation();
  useDocumentTitle(name || "Builder");

  // --- undo / redo --------------------------------------------------------------------
  const undoStack = useRef<Snapshot[]>([]);
  const redoStack = useRef<Snapshot[]>([]);
  const current = useRef<Snapshot>({ nodes, edges });
  current.current = { nodes, edges };
  const lastRecord = useRef<{ key: string; at: number }>({ key: "", at: 0 });
  const [, bump] = useState(0);
  const record = useCallback((key = "") => {
    const now = Date.now();
    if (key && key === lastRecord.current.key && now - lastRecord.current.at < 1500) {
      lastRecord.current.at = now;
      return; // typing in one field is one step
    }
    lastRecord.current = { key, at: now };
    undoStack.current.push(current.current);
    if (undoStack.current.length > 200) undoStack.current.shift();
    redoStack.current = [];
    bump((x) => x + 1);
  }, []);
  const restore = (from: React.MutableRefObject<Snapshot[]>, to: React.MutableRefObject<Snapshot[]>) => {
    const snap = from.current.pop();
    if (!snap) return;
    to.current.push(current.current);
    setNodes(snap.nodes);
    setEdges(snap.edges);
    setDirty(true);
    lastRecord.current = { key: "", at: 0 };
    bump((x) => x + 1);
  };
  const undo = () => restore(undoStack, redoStack);
  const redo = () => restore(redoStack, undoStack);

  // --- edits --------------------------------------------------------------------------
  const onNodesChange = useCallback((changes: NodeChange<BuilderNode>[]) => {
    if (changes.some((c) => c.type === "remove")) record();
    if (changes.some((c) => c.type === "remove" || c.type === "add" || c.type === "replace" || (c.type === "position" && c.dragging)))
      setDirty(true);
    setNodes((ns) => applyNodeChanges(changes, ns));
  }, [record]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    if (changes.some((c) => c.type === "remove")) {
      record();
      setDirty(true);
    }
    setEdges((es) => applyEdgeChanges(changes, es));
  }, [record]);

  useEffect(() => {
    // Keep each node's list of linked pins in step with the edges.
    setNodes((ns) => withLinked(ns, edges));
  }, [edges]);

  const onConnect = useCallback((c: Connection) => {
    if (!c.source || !c.target || !c.sourceHandle || !c.targetHandle) return;
    const sourceNode = flow.getNode(c.source);
    const targetNode = flow.getNode(c.target);
    if (!sourceNode || !targetNode) return;
    let sourceName = c.sourceHandle.slice(4);
    const sinkName = c.targetHandle.slice(3);
    if (sourceName === "tools") {
      // Orchestrator tool pins: tools_^_<tool>_~_<field of the tool node>.
      sourceName = `${TOOL_PREFIX}${toolName(targetNode.data.block.name)}${TOOL_FIELD}${sinkName}`;
    }
    const exists = current.current.edges.some(
      (e) => e.source === c.source && e.target === c.target && e.sourceHandle === c.sourceHandle && e.targetHandle === c.targetHandle,
    );
    if (exists) return;
    record();
    setDirty(true);
    const edge = linkToEdge({
      id: newId(),
      source_id: c.source,
      sink_id: c.target,
      source_name: sourceName,
      sink_name: sinkName,
      is_static: !!sourceNode.data.block.staticOutput,
    });
    setEdges((es) => [...es, edge]);
  }, [flow, record]);

  const isValidConnection = useCallback(
    (c: Connection | Edge) => !!c.sourceHandle?.startsWith("out:") && !!c.targetHandle?.startsWith("in:") && c.source !== c.target,
    [],
  );

  const addBlock = useCallback((block: Block, at?: { x: number; y: number }) => {
    let position = at;
    if (!position) {
      // Right of the last node added, else in the middle of the view.
      const last = current.current.nodes[current.current.nodes.length - 1];
      if (last) {
        const width = last.measured?.width ?? 260;
        position = { x: last.position.x + width + 80, y: last.position.y };
      } else {
        const rect = wrapper.current?.getBoundingClientRect();
        const center = rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 } : { x: 400, y: 300 };
        const p = flow.screenToFlowPosition(center);
        position = { x: p.x - 130, y: p.y - 60 };
      }
    }
    record();
    setDirty(true);
    const id = newId();
    const node: BuilderNode = {
      id,
      type: isNoteBlock(block) ? "note" : "block",
      position,
      selected: true,
      data: { block, inputDefault: initialDefaults(block), metadata: {}, extraInputs: [], extraOutputs: [] },
    };
    setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
    setSelectedId(id);
  }, [flow, record]);

  const onDrop = (e: DragEvent) => {
    const id = e.dataTransfer.getData(BLOCK_MIME);
    const block = id ? blockMap.get(id) : undefined;
    if (!block) return;
    e.preventDefault();
    addBlock(block, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const setDefault = useCallback((nodeId: string, pin: string, value: unknown) => {
    record(`${nodeId}:${pin}`);
    setDirty(true);
    setNodes((ns) =>
      ns.map((n) => {
        if (n.id !== nodeId) return n;
        const inputDefault = { ...n.data.inputDefault };
        if (value === undefined) delete inputDefault[pin];
        else inputDefault[pin] = value;
        // An edited pin's error is resolved as far as the user can tell until the next save.
        const errors = n.data.errors ? { ...n.data.errors, pins: { ...n.data.errors.pins } } : undefined;
        if (errors) delete errors.pins[pin];
        return { ...n, data: { ...n.data, inputDefault, errors } };
      }),
    );
  }, [record]);

  const addPin = useCallback((nodeId: string, side: "in" | "out", pin: string) => {
    record();
    setNodes((ns) =>
      ns.map((n) => {
        if (n.id !== nodeId) return n;
        const key = side === "in" ? "extraInputs" : "extraOutputs";
        const list = n.data[key];
        return list.includes(pin) ? n : { ...n, data: { ...n.data, [key]: [...list, pin] } };
      }),
    );
  }, [record]);

  const deleteNode = useCallback((nodeId: string) => {
    record();
    setDirty(true);
    setNodes((ns) => ns.filter((n) => n.id !== nodeId));
    setEdges((es) => es.filter((e) => e.source !== nodeId && e.target !== nodeId));
    setSelectedId(null);
  }, [record]);

  // --- save ---------------------------------------------------------------------------
  const showErrors = (error: unknown) => {
    const details = error instanceof ApiError ? error.details : [];
    const byNode = errorsByNode(details, current.current.edges);
    setNodes((ns) => ns.map((n) => (byNode.has(n.id) || n.data.errors ? { ...n, data: { ...n.data, errors: byNode.get(n.id) } } : n)));
    setProblems([
      errorText(error),
      ...details.filter((d) => !d.node_id || !current.current.nodes.some((n) => n.id === d.node_id)).map((d) => `${d.field ?? d.pin ?? "graph"}: ${String(d.message ?? "")}`),
    ]);
  };

  const save = async (): Promise<Graph | null> => {
    setSaving(true);
    setProblems([]);
    try {
      const doc = flowToGraph(current.current.nodes, current.current.edges, { name: name.trim() || "Untitled agent", description });
      const result = saved ? await api.updateGraph(saved.id, doc) : await api.createGraph(doc);
      const selectedIndex = current.current.nodes.findIndex((n) => n.id === selectedId);
      const next = graphToFlow(result, blockMap);
      setNodes(next.nodes);
      setEdges(next.edges);
      setSaved(result);
      setDirty(false);
      setSelectedId(selectedIndex >= 0 ? (next.nodes[selectedIndex]?.id ?? null) : null);
      undoStack.current = [];
      redoStack.current = [];
      toast(`Saved version ${result.version}`);
      if (!saved) {
        setNavigationGuard(null);
        adoptNewGraph(result.id);
        navigate(`/build/${result.id}`, true);
      }
      return result;
    } catch (error) {
      showErrors(error);
      toast(`Not saved: ${errorText(error)}`, "error");
      return null;
    } finally {
      setSaving(false);
    }
  };

  // --- run and watch ------------------------------------------------------------------
  const watcher = useRef<RunWatcher | null>(null);
  const pending = useRef<Map<string, NodeExecution>>(new Map());
  const counts = useRef<Map<string, Set<string>>>(new Map());
  const frame = useRef<number | null>(null);

  const flushNodes = useCallback(() => {
    frame.current = null;
    const updates = pending.current;
    pending.current = new Map();
    setNodes((ns) =>
      ns.map((n) => {
        const u = updates.get(n.id);
        return u ? { ...n, data: { ...n.data, execution: u, execCount: counts.current.get(n.id)?.size ?? 1 } } : n;
      }),
    );
  }, []);

  const onNodeEvent = useCallback((e: NodeExecution) => {
    const seen = counts.current.get(e.node_id) ?? new Set<string>();
    seen.add(e.node_exec_id);
    counts.current.set(e.node_id, seen);
    const prev = pending.current.get(e.node_id);
    if (!prev || e.seq >= prev.seq) pending.current.set(e.node_id, e);
    if (frame.current === null) frame.current = requestAnimationFrame(flushNodes);
  }, [flushNodes]);

  const follow = useCallback((graphId: string, execId: string) => {
    watcher.current?.close();
    counts.current = new Map();
    pending.current = new Map();
    setNodes((ns) => ns.map((n) => (n.data.execution ? { ...n, data: { ...n.data, execution: undefined, execCount: 0 } } : n)));
    watcher.current = watchRun(graphId, execId, {
      onRun: (r) => setRun((prev) => (prev && prev.id === r.id && isTerminal(prev.status) && !isTerminal(r.status) ? prev : r)),
      onNode: onNodeEvent,
      onTransport: setTransport,
    });
  }, [onNodeEvent]);

  useEffect(() => () => watcher.current?.close(), []);

  useEffect(() => {
    const exec = query.get("exec");
    if (exec && saved && run?.id !== exec) {
      api.run(saved.id, exec).then((detail) => {
        setRun(detail);
        follow(saved.id, exec);
      }, (error) => toast(errorText(error), "error"));
    }
    // Only on arrival with ?exec=.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const startRun = async (inputs: Record<string, unknown>, credentialsInputs: Record<string, CredentialRef>) => {
    let graph = saved;
    if (dirty || !graph) graph = await save();
    if (!graph) return false;
    try {
      const queued = await api.execute(graph.id, graph.version, inputs, credentialsInputs);
      setRunOpen(false);
      setRun({ ...(queued as unknown as Run), graph_id: graph.id, graph_version: graph.version, inputs, outputs: {}, stats: {} } as Run);
      follow(graph.id, queued.id);
      return true;
    } catch (error) {
      showErrors(error);
      throw error;
    }
  };

  const stopRun = async () => {
    if (!run || !saved) return;
    try {
      setRun(await api.stop(saved.id, run.id));
    } catch (error) {
      toast(errorText(error), "error");
    }
  };

  // --- keyboard, leaving ----------------------------------------------------------------
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (!mod) return;
      const typing = (e.target as HTMLElement | null)?.closest("input, textarea, select");
      if (e.key.toLowerCase() === "s") {
        e.preventDefault();
        void save();
      } else if (!typing && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (!typing && e.key.toLowerCase() === "y") {
        e.preventDefault();
        redo();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  useEffect(() => {
    setNavigationGuard(dirty ? () => !window.confirm("Leave the builder? Unsaved changes are lost.") : null);
    const before = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    window.addEventListener("beforeunload", before);
    return () => {
      setNavigationGuard(null);
      window.removeEventListener("beforeunload", before);
    };
  }, [dirty]);

  const selected = selectedId ? nodes.find((n) => n.id === selectedId) : undefined;
  const running = run && !isTerminal(run.status);
  const errorCount = nodes.filter((n) => n.data.errors && (n.data.errors.node.length || Object.keys(n.data.errors.pins).length)).length;

  return (
    <div className="builder">
      <div className="builder-bar" role="toolbar" aria-label="Builder">
        <button type="button" className="btn btn-small" onClick={() => setShowPalette(!showPalette)} aria-pressed={showPalette}>
          Blocks
        </button>
        <label className="sr-only" htmlFor="graph-name">
          Agent name
        </label>
        <input
          id="graph-name"
          className="graph-name"
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            setDirty(true);
          }}
        />
        <span className="muted small" data-testid="graph-version">
          {saved ? `v${saved.version}` : "not saved"}
          {dirty ? " · unsaved changes" : ""}
        </span>
        <span className="spacer" />
        <button type="button" className="btn btn-small" onClick={undo} disabled={!undoStack.current.length} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" className="btn btn-small" onClick={redo} disabled={!redoStack.current.length} title="Redo (Ctrl+Shift+Z)">
          Redo
        </button>
        <button type="button" className="btn btn-small" onClick={() => addBlock(blocks.find(isNoteBlock)!)} disabled={!blocks.some(isNoteBlock)}>
          Note
        </button>
        <button type="button" className="btn" onClick={() => void save()} disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
        {running ? (
          <button type="button" className="btn btn-danger" onClick={() => void stopRun()}>
            Stop
          </button>
        ) : (
          <button type="button" className="btn btn-primary" onClick={() => setRunOpen(true)} disabled={nodes.length === 0}>
            Run
          </button>
        )}
        {saved && (
          <Link className="btn btn-small" to={`/runs?graph=${encodeURIComponent(saved.id)}`}>
            History
          </Link>
        )}
      </div>
      {(problems.length > 0 || errorCount > 0) && (
        <div className="builder-problems" role="alert">
          <strong>{problems[0] ?? "Some nodes have problems."}</strong>
          {errorCount > 0 && <span> {errorCount} node(s) marked on the canvas.</span>}
          {problems.slice(1, 6).map((p, i) => (
            <div key={i}>{p}</div>
          ))}
          <button type="button" className="btn btn-link dismiss" onClick={() => setProblems([])}>
            Dismiss
          </button>
        </div>
      )}
      <div className="builder-body">
        {showPalette && <Palette blocks={blocks} onAdd={addBlock} />}
        <div className="canvas" ref={wrapper} onDragOver={(e) => e.dataTransfer.types.includes(BLOCK_MIME) && e.preventDefault()} onDrop={onDrop}>
          <ReactFlow<BuilderNode>
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            isValidConnection={isValidConnection}
            onNodeDragStart={() => record()}
            onSelectionChange={({ nodes: sel }) => setSelectedId(sel.length === 1 ? sel[0].id : null)}
            deleteKeyCode={["Backspace", "Delete"]}
            onlyRenderVisibleElements={nodes.length > 150}
            fitView
            fitViewOptions={{ maxZoom: 1.1, padding: 0.15 }}
            minZoom={0.05}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls fitViewOptions={{ maxZoom: 1.1, padding: 0.15 }} />
            {nodes.length <= 300 && <MiniMap pannable zoomable />}
          </ReactFlow>
          {nodes.length === 0 && (
            <div className="canvas-empty">
              <p>An empty graph. Add blocks from the palette (click or drag), then drag from an output pin to an input pin to link them.</p>
            </div>
          )}
          {run && <RunBar run={run} transport={transport} graphId={saved?.id} onClose={() => setRun(null)} />}
        </div>
        {selected && (
          <Inspector key={selected.id} node={selected} onDefault={setDefault} onAddPin={addPin} onDelete={deleteNode} onClose={() => setSelectedId(null)} />
        )}
      </div>
      {runOpen && <RunDialog graph={saved} draft={dirty ? (flowToGraph(nodes, edges, { name, description }).nodes as DraftNode[]) : null} blocks={blockMap} dirty={dirty} onRun={startRun} onClose={() => setRunOpen(false)} />}
    </div>
  );
}

function RunBar({ run, transport, graphId, onClose }: { run: Run; transport: string; graphId?: string; onClose: () => void }) {
  const outputs = Object.entries(run.outputs ?? {});
  return (
    <section className="runbar" aria-label="Run" aria-live="polite" data-testid="runbar">
      <div className="runbar-head">
        <strong>Run</strong> <StatusBadge status={run.status} />
        {transport && <span className="muted small">{transport === "ws" ? "live" : transport === "poll" ? "polling" : ""}</span>}
        <span className="spacer" />
        {graphId && (
          <Link to={`/runs/${graphId}/${run.id}`} className="btn btn-small">
            Details
          </Link>
        )}
        <button type="button" className="btn btn-small" onClick={onClose} aria-label="Hide the run">
          ✕
        </button>
      </div>
      {run.status === "REVIEW" && <ReviewNotice execId={run.id} compact />}
      {run.error && <p className="text-error">{run.error}</p>}
      {outputs.length > 0 && (
        <dl className="run-outputs">
          {outputs.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>
                <code>{preview(v, 200)}</code>
              </dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

type DraftNode = { block_id: string; input_default?: unknown; metadata?: unknown };

function RunDialog({ graph, draft, blocks, dirty, onRun, onClose }: { graph: Graph | null; draft: DraftNode[] | null; blocks: Map<string, Block>; dirty: boolean; onRun: (inputs: Record<string, unknown>, credentials: Record<string, CredentialRef>) => Promise<boolean>; onClose: () => void }) {
  const schema = (graph?.input_schema ?? { type: "object", properties: {} }) as JsonSchema;
  const [inputs, setInputs] = useState<Record<string, unknown>>(() => {
    const out: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(schema.properties ?? {})) if (p.default !== undefined && p.default !== null) out[k] = p.default;
    return out;
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const fieldErrors: Record<string, string[]> = {};
  if (error instanceof ApiError)
    for (const d of error.details) {
      const m = /^(?:body\.)?inputs\.(.+)$/.exec(String(d.field ?? ""));
      const key = m?.[1] ?? (typeof d.pin === "string" && !d.node_id ? d.pin : undefined);
      if (key) (fieldErrors[key] ??= []).push(String(d.message ?? ""));
    }
  // Unsaved changes are saved before the run: their credentials inputs are asked for now.
  const [canvas] = useState(draft); // as it was when the form opened
  const credentialFields = useMemo(
    () => credentialsFields(canvas ? { nodes: canvas, credentials_input_schema: draftCredentialsSchema(canvas, blocks) } : graph, blocks),
    [graph, canvas, blocks],
  );
  const [credentials, setCredentials] = useState<Record<string, CredentialRef>>({});
  return (
    <dialog ref={dialog} className="dialog" onClose={onClose} aria-labelledby="run-title">
      <form
        method="dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            // Only the fields this version asks for (a dirty graph's are those of the last save).
            const refs = Object.fromEntries(Object.entries(credentials).filter(([k]) => credentialFields.some((f) => f.key === k)));
            await onRun(inputs, refs);
          } catch (exc) {
            setError(exc);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2 id="run-title">Run {graph?.name ?? "agent"}</h2>
        {dirty && <p className="muted">Unsaved changes are saved first (a new version).</p>}
        {dirty && graph ? (
          <p className="muted small">The inputs below are those of the last saved version.</p>
        ) : null}
        <SchemaForm schema={schema} value={inputs} untypedAsText errors={fieldErrors} onChange={(k, v) => setInputs((x) => {
          const next = { ...x };
          if (v === undefined) delete next[k];
          else next[k] = v;
          return next;
        })} />
        <CredentialsInputs
          fields={credentialFields}
          value={credentials}
          onChange={(k, ref) => setCredentials((x) => {
            const next = { ...x };
            if (ref) next[k] = ref;
            else delete next[k];
            return next;
          })}
        />
        {error ? <ErrorBox error={error} /> : null}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Starting…" : dirty ? "Save and run" : "Run"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
