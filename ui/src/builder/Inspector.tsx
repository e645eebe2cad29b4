// The selected node: its input defaults (a form from the block's schema), dynamic pins, and
// the inputs, outputs and error of its latest execution.
import { useState } from "react";
import { SchemaForm } from "../SchemaForm";
import { credentialPins, NodeCredentials } from "../CredentialsPicker";
import { StatusBadge } from "../ui";
import { Values } from "../pages/Runs";
import { basePin, inputSchema, nodeInputs, nodeOutputs, prettyName, type BuilderNode, type JsonSchema } from "./model";

interface Props {
  node: BuilderNode;
  onDefault: (nodeId: string, name: string, value: unknown) => void;
  onAddPin: (nodeId: string, side: "in" | "out", name: string) => void;
  onDelete: (nodeId: string) => void;
  onClose: () => void;
}

export function Inspector({ node, onDefault, onAddPin, onDelete, onClose }: Props) {
  const { data } = node;
  const [tab, setTab] = useState<"inputs" | "run">(data.execution ? "run" : "inputs");
  const schema = inputSchema(data.block);
  const linked = new Set((data.linked ?? []).map(basePin));
  for (const l of data.linked ?? []) linked.add(l);
  const exec = data.execution;
  const credentials = credentialPins(schema as JsonSchema).filter((p) => !linked.has(p));
  return (
    <aside className="inspector" aria-label={`Node ${prettyName(data.block)}`}>
      <div className="inspector-head">
        <h2>{prettyName(data.block)}</h2>
        <button type="button" className="btn btn-small" onClick={onClose} aria-label="Close the node panel">
          ✕
        </button>
      </div>
      <p className="muted">{data.block.description}</p>
      <p className="muted small">
        node <code>{node.id.slice(0, 8)}</code>
      </p>
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === "inputs"} className={tab === "inputs" ? "tab tab-on" : "tab"} onClick={() => setTab("inputs")}>
          Inputs
        </button>
        <button type="button" role="tab" aria-selected={tab === "run"} className={tab === "run" ? "tab tab-on" : "tab"} onClick={() => setTab("run")}>
          Last run {exec && <StatusBadge status={exec.status} />}
        </button>
      </div>
      {tab === "inputs" ? (
        <>
          {data.errors?.node.map((m, i) => (
            <p key={i} className="text-error">
              {m}
            </p>
          ))}
          {credentials.length > 0 && (
            <NodeCredentials schema={schema as JsonSchema} pins={credentials} value={data.inputDefault} onChange={(name, ref) => onDefault(node.id, name, ref)} />
          )}
          <SchemaForm
            schema={schema as JsonSchema}
            value={data.inputDefault}
            linked={linked}
            errors={data.errors?.pins}
            hide={new Set(credentials)}
            onChange={(name, value) => onDefault(node.id, name, value)}
          />
          <DynamicPins node={node} onAdd={onAddPin} />
          <button type="button" className="btn btn-danger btn-small" onClick={() => onDelete(node.id)}>
            Delete node
          </button>
        </>
      ) : exec ? (
        <div className="exec-info">
          <p>
            <StatusBadge status={exec.status} /> {data.execCount && data.execCount > 1 ? `(${data.execCount} executions; latest shown)` : ""}
          </p>
          {exec.error && <p className="text-error">{exec.error}</p>}
          <h3>Inputs</h3>
          <Values value={exec.input_data} />
          <h3>Outputs</h3>
          <Values value={exec.output_data} />
        </div>
      ) : (
        <p className="muted">This node has not run in the run shown.</p>
      )}
    </aside>
  );
}

/** Add `_#_key` (object), `_$_index` (list) and `_@_attribute` pins to a node. */
function DynamicPins({ node, onAdd }: { node: BuilderNode; onAdd: Props["onAddPin"] }) {
  const ins = nodeInputs(node.data).filter((p) => !p.dynamic && ["object", "list", "any"].includes(p.type));
  const outs = nodeOutputs(node.data).filter((p) => !p.dynamic && ["object", "list", "any"].includes(p.type));
  const [side, setSide] = useState<"in" | "out">(ins.length ? "in" : "out");
  const pins = side === "in" ? ins : outs;
  const [pin, setPin] = useState("");
  const [kind, setKind] = useState("_#_");
  const [key, setKey] = useState("");
  if (ins.length + outs.length === 0) return null;
  const base = pins.find((p) => p.name === pin) ?? pins[0];
  const add = () => {
    if (!base || !key.trim()) return;
    onAdd(node.id, side, `${base.name}${kind}${key.trim()}`);
    setKey("");
  };
  return (
    <details className="dyn-pins">
      <summary>Dynamic pins</summary>
      <p className="muted small">
        Link to one key of a dictionary (<code>_#_</code>), one item of a list (<code>_$_</code>) or an attribute (<code>_@_</code>).
      </p>
      <div className="dyn-row">
        <select aria-label="Side" value={side} onChange={(e) => setSide(e.target.value as "in" | "out")}>
          {ins.length > 0 && <option value="in">input</option>}
          {outs.length > 0 && <option value="out">output</option>}
        </select>
        <select aria-label="Pin" value={base?.name ?? ""} onChange={(e) => setPin(e.target.value)}>
          {pins.map((p) => (
            <option key={p.name}>{p.name}</option>
          ))}
        </select>
        <select aria-label="Kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="_#_">_#_ key</option>
          <option value="_$_">_$_ index</option>
          <option value="_@_">_@_ attribute</option>
        </select>
        <input aria-label="Key" value={key} onChange={(e) => setKey(e.target.value)} placeholder="key" onKeyDown={(e) => e.key === "Enter" && add()} />
        <button type="button" className="btn btn-small" onClick={add} disabled={!key.trim()}>
          Add
        </button>
      </div>
    </details>
  );
}
