// Canvas nodes: a block with typed input/output pins, and sticky notes.
import { Handle, Position, useReactFlow, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import { preview } from "../ui";
import { nodeInputs, nodeOutputs, prettyName, type BuilderNode } from "./model";

function BlockNodeView({ id, data, selected }: NodeProps<BuilderNode>) {
  const inputs = nodeInputs(data).filter((p) => !p.advanced || data.linked?.includes(p.name) || data.errors?.pins[p.name]);
  const outputs = nodeOutputs(data).filter((p) => !p.advanced);
  const exec = data.execution;
  const status = exec?.status;
  const errored = !!data.errors && (data.errors.node.length > 0 || Object.keys(data.errors.pins).length + Object.keys(data.errors.outPins).length > 0);
  const cls = ["bnode", selected && "selected", errored && "bnode-error", status && `st-${status.toLowerCase()}`, data.block.disabled && "bnode-disabled"]
    .filter(Boolean)
    .join(" ");
  const outputValue = data.block.uiType === "Output" && exec?.output_data ? (exec.output_data as Record<string, unknown[]>).output : undefined;
  return (
    <div className={cls} data-node-id={id} data-block={data.block.name} data-status={status ?? ""}>
      <div className="bnode-head">
        <span className="bnode-title" title={data.block.description}>
          {prettyName(data.block)}
        </span>
        {data.block.uiType === "Input" && typeof data.inputDefault.name === "string" && <span className="bnode-sub">{data.inputDefault.name}</span>}
        {data.block.uiType === "Output" && typeof data.inputDefault.name === "string" && <span className="bnode-sub">{data.inputDefault.name}</span>}
        {status && (
          <span className={`badge badge-${status.toLowerCase()}`} data-testid="node-status">
            {status}
            {data.execCount && data.execCount > 1 ? ` ×${data.execCount}` : ""}
          </span>
        )}
      </div>
      {data.errors?.node.map((m, i) => (
        <div key={i} className="bnode-msg text-error" role="alert">
          {m}
        </div>
      ))}
      <div className="bnode-pins">
        <div className="pins pins-in">
          {inputs.map((p) => {
            const errs = data.errors?.pins[p.name];
            const v = data.inputDefault[p.name];
            const linked = data.linked?.includes(p.name);
            return (
              <div key={p.name} className={errs ? "pin pin-in pin-has-error" : "pin pin-in"} data-pin={p.name}>
                <Handle type="target" position={Position.Left} id={`in:${p.name}`} className={`h h-${p.type}`} />
                <span className="pin-name">
                  {p.name}
                  {p.required && "*"}
                </span>
                <span className="pin-type">{p.type}</span>
                {!linked && v !== undefined && v !== "" && <span className="pin-value">{preview(v, 24)}</span>}
                {errs?.map((m, i) => (
                  <span key={i} className="pin-error" role="alert">
                    {m}
                  </span>
                ))}
              </div>
            );
          })}
        </div>
        <div className="pins pins-out">
          {outputs.map((p) => (
            <div key={p.name} className={data.errors?.outPins[p.name] ? "pin pin-out pin-has-error" : "pin pin-out"} data-pin={p.name}>
              <span className="pin-type">{p.type}</span>
              <span className="pin-name">{p.name}</span>
              <Handle type="source" position={Position.Right} id={`out:${p.name}`} className={`h h-${p.type}`} />
              {data.errors?.outPins[p.name]?.map((m, i) => (
                <span key={i} className="pin-error" role="alert">
                  {m}
                </span>
              ))}
            </div>
          ))}
        </div>
      </div>
      {outputValue !== undefined && (
        <div className="bnode-output" data-testid="node-output">
          {outputValue.map((v, i) => (
            <code key={i}>{preview(v, 80)}</code>
          ))}
        </div>
      )}
      {exec?.error && <div className="bnode-msg text-error">{preview(exec.error, 140)}</div>}
    </div>
  );
}

function NoteNodeView({ id, data, selected }: NodeProps<BuilderNode>) {
  const { updateNodeData } = useReactFlow<BuilderNode>();
  return (
    <div className={selected ? "note selected" : "note"} data-node-id={id}>
      <textarea
        aria-label="Note"
        className="nodrag"
        value={String(data.inputDefault.text ?? "")}
        placeholder="Write a note…"
        onChange={(e) => updateNodeData(id, { inputDefault: { ...data.inputDefault, text: e.target.value } })}
      />
    </div>
  );
}

export const nodeTypes = { block: memo(BlockNodeView), note: memo(NoteNodeView) };
