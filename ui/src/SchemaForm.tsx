// A form generated from a JSON schema: node input defaults, run inputs, schedule inputs.
import { useEffect, useId, useState } from "react";
import { resolveRef, typeLabel, unwrapOptional, type JsonSchema } from "./builder/model";

interface Props {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (name: string, value: unknown) => void;
  linked?: Set<string>;
  errors?: Record<string, string[]>;
  /** Untyped fields (run inputs are often untyped) take plain text. */
  untypedAsText?: boolean;
  hide?: Set<string>;
}

const LONG_TEXT = /text|prompt|template|format|body|description|note/i;

export function SchemaForm({ schema, value, onChange, linked, errors, untypedAsText, hide }: Props) {
  const [advanced, setAdvanced] = useState(false);
  const props = Object.entries(schema.properties ?? {}).filter(([name]) => !hide?.has(name));
  const required = new Set(schema.required ?? []);
  const basic = props.filter(([, p]) => !p.advanced);
  const more = props.filter(([, p]) => p.advanced);
  const render = ([name, prop]: [string, JsonSchema]) => (
    <Field
      key={name}
      name={name}
      schema={prop}
      root={schema}
      required={required.has(name)}
      value={value[name]}
      linked={linked?.has(name) ?? false}
      errors={errors?.[name]}
      untypedAsText={untypedAsText}
      onChange={(v) => onChange(name, v)}
    />
  );
  if (props.length === 0) return <p className="muted">No inputs.</p>;
  return (
    <div className="schema-form">
      {basic.map(render)}
      {more.length > 0 && (
        <>
          <button type="button" className="btn btn-link" aria-expanded={advanced} onClick={() => setAdvanced(!advanced)}>
            {advanced ? "Hide" : "Show"} advanced ({more.length})
          </button>
          {advanced && more.map(render)}
        </>
      )}
    </div>
  );
}

function Field(props: {
  name: string;
  schema: JsonSchema;
  root: JsonSchema;
  required: boolean;
  value: unknown;
  linked: boolean;
  errors?: string[];
  untypedAsText?: boolean;
  onChange: (value: unknown) => void;
}) {
  const { name, root, required, value, linked, errors, onChange, untypedAsText } = props;
  const schema = unwrapOptional(props.schema, root);
  const id = useId();
  const type = typeLabel(props.schema, root);
  const title = schema.title || name;
  const describedBy = errors?.length ? `${id}-err` : schema.description ? `${id}-desc` : undefined;
  let control;
  if (linked) {
    control = (
      <p className="linked-note" id={id}>
        Connected: the value comes from a link.
      </p>
    );
  } else if (type === "enum") {
    const options = (resolveRef(schema, root).enum ?? []) as unknown[];
    control = (
      <select id={id} value={value === undefined ? "" : String(value)} aria-describedby={describedBy} onChange={(e) => onChange(e.target.value === "" ? undefined : options.find((o) => String(o) === e.target.value))}>
        <option value="">{schema.default !== undefined ? `default: ${String(schema.default)}` : "— choose —"}</option>
        {options.map((o) => (
          <option key={String(o)} value={String(o)}>
            {String(o)}
          </option>
        ))}
      </select>
    );
  } else if (type === "boolean") {
    control = (
      <input id={id} type="checkbox" checked={value === undefined ? !!schema.default : !!value} aria-describedby={describedBy} onChange={(e) => onChange(e.target.checked)} />
    );
  } else if (type === "number") {
    control = (
      <input
        id={id}
        type="number"
        step="any"
        value={typeof value === "number" || typeof value === "string" ? String(value) : ""}
        placeholder={schema.default !== undefined && schema.default !== null ? String(schema.default) : ""}
        aria-describedby={describedBy}
        onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
      />
    );
  } else if (type === "string" || (untypedAsText && (type === "any" || type === "union"))) {
    const text = value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
    const secret = !!schema.secret || schema.format === "password";
    control = LONG_TEXT.test(name) && !secret ? (
      <textarea id={id} rows={3} value={text} aria-describedby={describedBy} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
    ) : (
      <input id={id} type={secret ? "password" : "text"} value={text} aria-describedby={describedBy} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
    );
  } else {
    control = <JsonField id={id} value={value} loose={type === "any" || type === "union"} describedBy={describedBy} onChange={onChange} />;
  }
  return (
    <div className={errors?.length ? "field has-error" : "field"} data-field={name}>
      <label htmlFor={id}>
        {title}
        {required && <span aria-label="required"> *</span>} <span className="pin-type">{type}</span>
      </label>
      {control}
      {schema.description && !errors?.length && (
        <small id={`${id}-desc`} className="muted">
          {schema.description}
        </small>
      )}
      {errors?.map((e, i) => (
        <small key={i} id={`${id}-err`} className="text-error" role="alert">
          {e}
        </small>
      ))}
    </div>
  );
}

/** JSON text for objects, lists and untyped values ("loose": text that is not JSON is a string). */
function JsonField({ id, value, loose, describedBy, onChange }: { id: string; value: unknown; loose: boolean; describedBy?: string; onChange: (v: unknown) => void }) {
  const show = (v: unknown) => (v === undefined ? "" : typeof v === "string" && loose ? v : JSON.stringify(v, null, 1));
  const [text, setText] = useState(show(value));
  const [bad, setBad] = useState<string | null>(null);
  useEffect(() => setText(show(value)), [value]); // eslint-disable-line react-hooks/exhaustive-deps
  const commit = () => {
    if (text.trim() === "") {
      setBad(null);
      onChange(undefined);
      return;
    }
    try {
      onChange(JSON.parse(text));
      setBad(null);
    } catch (exc) {
      if (loose) {
        onChange(text);
        setBad(null);
      } else setBad(`Not valid JSON: ${(exc as Error).message}`);
    }
  };
  return (
    <>
      <textarea id={id} rows={3} className="mono" value={text} aria-invalid={!!bad} aria-describedby={describedBy} onChange={(e) => setText(e.target.value)} onBlur={commit} />
      {bad && <small className="text-error">{bad}</small>}
    </>
  );
}
