// Graph documents <-> canvas nodes and edges; pin names and types from the blocks' schemas.
import type { Edge, Node } from "@xyflow/react";
import type { ErrorDetail } from "../api/client";
import type { Block, Graph, GraphLink, NodeExecution } from "../api/endpoints";

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  advanced?: boolean;
  secret?: boolean;
  format?: string;
  $defs?: Record<string, JsonSchema>;
  [key: string]: unknown;
};

export const DELIMITERS = ["_#_", "_$_", "_@_"] as const;
export const TOOL_PREFIX = "tools_^_";
export const TOOL_FIELD = "_~_";

/** The pin a (possibly dynamic) pin name belongs to: `values_#_key` -> `values`. */
export function basePin(name: string): string {
  if (name.startsWith(TOOL_PREFIX)) return "tools";
  let cut = name.length;
  for (const d of DELIMITERS) {
    const i = name.indexOf(d);
    if (i > 0 && i < cut) cut = i;
  }
  return name.slice(0, cut);
}

export function isDynamic(name: string): boolean {
  return basePin(name) !== name;
}

/** A name usable in a tool pin: lower case, [a-z0-9_]. */
export function toolName(text: string): string {
  return text.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "tool";
}

export function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref?.startsWith("#/$defs/")) {
    const target = root.$defs?.[schema.$ref.slice("#/$defs/".length)];
    if (target) return { ...target, ...schema, $ref: undefined };
  }
  return schema;
}

/** The non-null alternative of `anyOf: [X, null]`, else the schema itself. */
export function unwrapOptional(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const s = resolveRef(schema, root);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) {
    const real = alts.filter((a) => a.type !== "null");
    if (real.length === 1) return { ...resolveRef(real[0], root), title: s.title, description: s.description, default: s.default, advanced: s.advanced };
  }
  return s;
}

/** A short type label of a pin: string, number, boolean, list, object, enum or any. */
export function typeLabel(schema: JsonSchema | undefined, root: JsonSchema): string {
  if (!schema) return "any";
  const s = unwrapOptional(schema, root);
  if (s.enum) return "enum";
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
  if (t === "integer" || t === "number") return "number";
  if (t === "array") return "list";
  if (t === "object") return "object";
  if (t === "string" || t === "boolean") return t;
  if (s.anyOf || s.oneOf) return "union";
  return "any";
}

export interface PinInfo {
  name: string;
  type: string;
  schema?: JsonSchema;
  required: boolean;
  advanced: boolean;
  dynamic: boolean;
}

export function schemaPins(schema: JsonSchema): PinInfo[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => ({
    name,
    type: typeLabel(prop, schema),
    schema: prop,
    required: required.has(name),
    advanced: !!prop.advanced,
    dynamic: false,
  }));
}

export interface NodeErrors {
  node: string[];
  /** Input pins. */
  pins: Record<string, string[]>;
  outPins: Record<string, string[]>;
}

export interface NodeData extends Record<string, unknown> {
  block: Block;
  inputDefault: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** Dynamic pins (from links, or added in the inspector). */
  extraInputs: string[];
  extraOutputs: string[];
  errors?: NodeErrors;
  execution?: NodeExecution;
  execCount?: number;
  linked?: string[];
}

export type BuilderNode = Node<NodeData>;

export const isNoteBlock = (b: Block) => b.uiType === "Note";

export function inputSchema(block: Block): JsonSchema {
  return block.inputSchema as JsonSchema;
}
export function outputSchema(block: Block): JsonSchema {
  return block.outputSchema as JsonSchema;
}

/** Input pins of the node (AgentExecutorBlock: its sub-graph's input schema). */
export function nodeInputs(data: NodeData): PinInfo[] {
  const pins = schemaPins(inputSchema(data.block));
  const sub = data.block.uiType === "Agent" ? (data.inputDefault.input_schema as JsonSchema | undefined) : undefined;
  const subPins = sub?.properties ? schemaPins(sub).map((p) => ({ ...p, advanced: false })) : [];
  const names = new Set([...pins, ...subPins].map((p) => p.name));
  const extra = data.extraInputs.filter((n) => !names.has(n)).map((n) => dynamicPin(n, [...pins, ...subPins]));
  return [...pins.filter((p) => !(sub && p.name === "inputs")), ...subPins, ...extra];
}

export function nodeOutputs(data: NodeData): PinInfo[] {
  const sub = data.block.uiType === "Agent" ? (data.inputDefault.output_schema as JsonSchema | undefined) : undefined;
  const pins = sub?.properties ? schemaPins(sub) : schemaPins(outputSchema(data.block));
  const names = new Set(pins.map((p) => p.name));
  const extra = data.extraOutputs.filter((n) => !names.has(n)).map((n) => dynamicPin(n, pins));
  return [...pins, ...extra];
}

function dynamicPin(name: string, pins: PinInfo[]): PinInfo {
  const base = pins.find((p) => p.name === basePin(name));
  return { name, type: name.startsWith(TOOL_PREFIX) ? "tool" : "any", schema: base?.schema, required: false, advanced: false, dynamic: true };
}

export function graphToFlow(graph: Graph, blocks: Map<string, Block>): { nodes: BuilderNode[]; edges: Edge[] } {
  const extraIn = new Map<string, Set<string>>();
  const extraOut = new Map<string, Set<string>>();
  for (const l of graph.links ?? []) {
    if (isDynamic(l.sink_name)) (extraIn.get(l.sink_id) ?? extraIn.set(l.sink_id, new Set()).get(l.sink_id)!).add(l.sink_name);
    if (isDynamic(l.source_name) && !l.source_name.startsWith(TOOL_PREFIX))
      (extraOut.get(l.source_id) ?? extraOut.set(l.source_id, new Set()).get(l.source_id)!).add(l.source_name);
  }
  const nodes: BuilderNode[] = (graph.nodes ?? []).map((n, i) => {
    const block = blocks.get(n.block_id) ?? unknownBlock(n.block_id);
    const pos = (n.metadata?.position ?? {}) as { x?: number; y?: number };
    return {
      id: n.id,
      type: isNoteBlock(block) ? "note" : "block",
      position: { x: Number(pos.x ?? (i % 10) * 320), y: Number(pos.y ?? Math.floor(i / 10) * 260) },
      data: {
        block,
        inputDefault: { ...(n.input_default ?? {}) },
        metadata: { ...(n.metadata ?? {}) },
        extraInputs: [...(extraIn.get(n.id) ?? [])],
        extraOutputs: [...(extraOut.get(n.id) ?? [])],
      },
    };
  });
  const edges = (graph.links ?? []).map(linkToEdge);
  return { nodes: withLinked(nodes, edges), edges };
}

export function linkToEdge(l: Pick<GraphLink, "source_id" | "sink_id" | "source_name" | "sink_name"> & { id?: string; is_static?: boolean }): Edge {
  const tool = l.source_name.startsWith(TOOL_PREFIX);
  return {
    id: l.id || `e-${l.source_id}-${l.source_name}-${l.sink_id}-${l.sink_name}`,
    source: l.source_id,
    target: l.sink_id,
    sourceHandle: `out:${tool ? "tools" : l.source_name}`,
    targetHandle: `in:${l.sink_name}`,
    data: { sourceName: l.source_name, sinkName: l.sink_name, isStatic: !!l.is_static },
    label: tool ? l.source_name.slice(TOOL_PREFIX.length).replace(TOOL_FIELD, " · ") : undefined,
    className: l.is_static ? "edge-static" : undefined,
  };
}

/** Mark on each node which input pins some edge feeds (the form shows them as linked). */
export function withLinked(nodes: BuilderNode[], edges: Edge[]): BuilderNode[] {
  const linked = new Map<string, string[]>();
  for (const e of edges) {
    const name = String((e.data as { sinkName?: string } | undefined)?.sinkName ?? e.targetHandle?.slice(3) ?? "");
    linked.set(e.target, [...(linked.get(e.target) ?? []), name]);
  }
  return nodes.map((n) => {
    const next = (linked.get(n.id) ?? []).sort();
    const prev = n.data.linked ?? [];
    if (prev.length === next.length && prev.every((x, i) => x === next[i])) return n;
    return { ...n, data: { ...n.data, linked: next } };
  });
}

export function unknownBlock(id: string): Block {
  return {
    id,
    name: `Unknown block ${id.slice(0, 8)}`,
    description: "This block does not exist on this server.",
    categories: [],
    inputSchema: { type: "object", properties: {} },
    outputSchema: { type: "object", properties: {} },
    staticOutput: false,
    uiType: "Standard",
    costs: [],
    disabled: true,
  };
}

export function flowToGraph(
  nodes: BuilderNode[],
  edges: Edge[],
  meta: { name: string; description: string },
): Record<string, unknown> {
  return {
    name: meta.name,
    description: meta.description,
    nodes: nodes.map((n) => ({
      id: n.id,
      block_id: n.data.block.id,
      input_default: n.data.inputDefault,
      metadata: { ...n.data.metadata, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) } },
    })),
    links: edges.map((e) => {
      const d = (e.data ?? {}) as { sourceName?: string; sinkName?: string; isStatic?: boolean };
      return {
        id: e.id,
        source_id: e.source,
        sink_id: e.target,
        source_name: d.sourceName ?? e.sourceHandle?.slice(4) ?? "",
        sink_name: d.sinkName ?? e.targetHandle?.slice(3) ?? "",
        is_static: !!d.isStatic,
      };
    }),
  };
}

/** Validation details (422) -> per node: node-level, input-pin and output-pin messages.
 * A detail names a pin without a side: it is an output when it is the source end of the
 * link the detail names, else an input. */
export function errorsByNode(details: ErrorDetail[], edges: Edge[]): Map<string, NodeErrors> {
  const out = new Map<string, NodeErrors>();
  const byId = new Map(edges.map((e) => [e.id, e]));
  for (const d of details) {
    if (!d.node_id) continue;
    const entry = out.get(d.node_id) ?? { node: [], pins: {}, outPins: {} };
    const message = String(d.message ?? "invalid");
    const link = d.link_id ? byId.get(d.link_id) : undefined;
    const sourceName = (link?.data as { sourceName?: string } | undefined)?.sourceName;
    if (!d.pin) entry.node.push(message);
    else if (link && link.source === d.node_id && sourceName === d.pin) (entry.outPins[d.pin] ??= []).push(message);
    else (entry.pins[d.pin] ??= []).push(message);
    out.set(d.node_id, entry);
  }
  return out;
}

export function newId(): string {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

/** The defaults a new node starts with: the schema's own defaults of non-advanced pins. */
export function initialDefaults(block: Block): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const schema = inputSchema(block);
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const p = resolveRef(prop, schema);
    if (p.default !== undefined && p.default !== null) out[name] = p.default;
  }
  return out;
}

export function categoriesOf(block: Block): string[] {
  const cats = (block.categories as { category?: string }[]).map((c) => String(c.category ?? "")).filter(Boolean);
  return cats.length ? cats : ["OTHER"];
}

export function prettyName(block: Block): string {
  return block.name.replace(/Block$/, "").replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
}
