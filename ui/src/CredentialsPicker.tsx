// The run form's credentials inputs: one picker per entry of the graph's
// `credentials_input_schema`, listing the user's (and the platform's) credentials that fit
// its providers and types. The run sends references only ({id, provider, type, title}).
import { useEffect, useId, useMemo } from "react";
import { api, type Block, type CredentialMeta, type CredentialRef } from "./api/endpoints";
import type { JsonSchema } from "./builder/model";
import { credentialLabel } from "./pages/Credentials";
import { ErrorBox, Spinner, useAsync } from "./ui";

function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.map(String);
  return [];
}

/** A provider name as stored (AutoGPT exports made on Python 3.13 say `ProviderName.X`). */
const normalize = (name: string) => (name.startsWith("ProviderName.") ? name.slice("ProviderName.".length).toLowerCase() : name);

/** The key of a credentials pin in `credentials_input_schema` (the server's rule). */
function fieldKey(pin: JsonSchema): string | null {
  const providers = strings(pin.credentials_provider);
  if (!providers.length) return null;
  return [...providers, ...strings(pin.credentials_types), "credentials"].join("_");
}

export interface CredentialsField {
  key: string;
  title: string;
  description?: string;
  providers: string[];
  types: string[];
  required: boolean;
}

type GraphLike = {
  credentials_input_schema?: unknown;
  nodes?: { block_id: string; input_default?: unknown; metadata?: unknown }[] | null;
} | null;

/** The graph's `credentials_input_schema` as the server computes it, for a graph not saved
 * yet: one property per provider/type combination of the blocks' credentials pins. */
export function draftCredentialsSchema(nodes: NonNullable<GraphLike>["nodes"], blocks: Map<string, Block>): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const node of nodes ?? []) {
    const pins = ((blocks.get(node.block_id)?.inputSchema ?? {}) as JsonSchema).properties ?? {};
    for (const pin of Object.values(pins)) {
      const key = fieldKey(pin);
      if (!key) continue;
      properties[key] ??= pin;
      const optional = !!(node.metadata as Record<string, unknown> | undefined)?.credentials_optional;
      if (!optional && !required.includes(key)) required.push(key);
    }
  }
  return { type: "object", properties, required };
}

/**
 * The credentials inputs of a graph. A field whose provider depends on another input
 * (the LLM blocks' `model`) accepts only the providers the graph's nodes select with it.
 */
export function credentialsFields(graph: GraphLike, blocks: Map<string, Block>): CredentialsField[] {
  const schema = (graph?.credentials_input_schema ?? {}) as JsonSchema;
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, prop]) => {
    let providers = strings(prop.credentials_provider).map(normalize);
    const discriminator = typeof prop.discriminator === "string" ? prop.discriminator : null;
    const mapping = (prop.discriminator_mapping ?? null) as Record<string, string> | null;
    if (discriminator && mapping) {
      const chosen = new Set<string>();
      for (const node of graph?.nodes ?? []) {
        const block = blocks.get(node.block_id);
        const pins = ((block?.inputSchema ?? {}) as JsonSchema).properties ?? {};
        if (!Object.values(pins).some((pin) => fieldKey(pin) === key)) continue;
        const defaults = (node.input_default ?? {}) as Record<string, unknown>;
        const value = defaults[discriminator] ?? pins[discriminator]?.default;
        if (typeof value === "string" && mapping[value]) chosen.add(normalize(mapping[value]));
      }
      if (chosen.size) providers = providers.length ? providers.filter((p) => chosen.has(p)) : [...chosen];
      if (!providers.length) providers = [...chosen];
    }
    return {
      key,
      title: typeof prop.title === "string" && prop.title && prop.title !== "Credentials" ? prop.title : "",
      description: typeof prop.description === "string" ? prop.description : undefined,
      providers,
      types: strings(prop.credentials_types),
      required: required.has(key),
    };
  });
}

export function fits(field: CredentialsField, c: CredentialMeta): boolean {
  return (!field.providers.length || field.providers.includes(c.provider)) && (!field.types.length || field.types.includes(c.type));
}

export const toRef = (c: CredentialMeta): CredentialRef => ({ id: c.id, provider: c.provider, type: c.type, title: c.title ?? null });

export function CredentialsInputs({
  fields,
  value,
  onChange,
}: {
  fields: CredentialsField[];
  value: Record<string, CredentialRef>;
  onChange: (key: string, ref: CredentialRef | undefined) => void;
}) {
  const credentials = useAsync(() => api.credentials(), []);
  const providers = useAsync(() => api.providers().catch(() => []), []);
  const titles = useMemo(() => new Map((providers.data ?? []).map((p) => [p.name, p.title])), [providers.data]);
  // One added in another tab ("Add a credential") shows up on coming back.
  useEffect(() => {
    window.addEventListener("focus", credentials.reload);
    return () => window.removeEventListener("focus", credentials.reload);
  }, [credentials.reload]);
  const choices = useMemo(
    () => new Map(fields.map((f) => [f.key, (credentials.data ?? []).filter((c) => fits(f, c))])),
    [fields, credentials.data],
  );
  // The user's only fitting credential is chosen for them.
  useEffect(() => {
    for (const f of fields) {
      const own = (choices.get(f.key) ?? []).filter((c) => !c.is_system);
      if (!value[f.key] && own.length === 1) onChange(f.key, toRef(own[0]));
    }
  }, [choices]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!fields.length) return null;
  return (
    <fieldset className="credentials-inputs">
      <legend>Credentials</legend>
      {credentials.loading && !credentials.data ? (
        <Spinner label="Loading your credentials…" />
      ) : credentials.error ? (
        <ErrorBox error={credentials.error} retry={credentials.reload} />
      ) : (
        fields.map((f) => <Picker key={f.key} field={f} titles={titles} options={choices.get(f.key) ?? []} value={value[f.key]} onChange={(ref) => onChange(f.key, ref)} />)
      )}
    </fieldset>
  );
}

function Picker({ field, titles, options, value, onChange, none = "— none: the node's own, or the platform's —" }: { field: CredentialsField; titles: Map<string, string>; options: CredentialMeta[]; value?: CredentialRef; onChange: (ref: CredentialRef | undefined) => void; none?: string }) {
  const id = useId();
  const own = options.filter((c) => !c.is_system);
  const platform = options.filter((c) => c.is_system);
  const title = (name: string) => titles.get(name) ?? name;
  const providers = field.providers.length ? field.providers.map(title).join(", ") : "any provider";
  // The provider is worth naming only when the field takes several.
  const suffix = (c: CredentialMeta) => (field.providers.length === 1 ? "" : ` · ${title(c.provider)}`);
  const label = field.title || `${providers} credentials`;
  const add = `/credentials${field.providers.length === 1 ? `?provider=${encodeURIComponent(field.providers[0])}` : ""}`;
  return (
    <div className="field" data-credentials={field.key}>
      <label htmlFor={id}>
        {label}
        {field.required && <span aria-label="required"> *</span>} <span className="pin-type">{field.types.join(", ") || "credentials"}</span>
      </label>
      <select id={id} value={value?.id ?? ""} onChange={(e) => {
        const c = options.find((o) => o.id === e.target.value);
        onChange(c ? toRef(c) : undefined);
      }}>
        <option value="">{options.length ? none : "— no fitting credential —"}</option>
        {own.length > 0 && (
          <optgroup label="Yours">
            {own.map((c) => (
              <option key={c.id} value={c.id}>
                {credentialLabel(c)}
                {suffix(c)}
              </option>
            ))}
          </optgroup>
        )}
        {platform.length > 0 && (
          <optgroup label="Platform">
            {platform.map((c) => (
              <option key={c.id} value={c.id}>
                {credentialLabel(c)}
                {suffix(c)}
              </option>
            ))}
          </optgroup>
        )}
      </select>
      <small className="muted">
        For {providers}.{" "}
        <a href={add} target="_blank" rel="noopener">
          Add a credential
        </a>{" "}
        (in a new tab).
      </small>
    </div>
  );
}

/** The credentials pins of a block's input schema (markers, or AutoGPT's naming rule). */
export function credentialPins(schema: JsonSchema): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([name, pin]) => pin.credentials_provider !== undefined || name === "credentials" || name.endsWith("_credentials"))
    .map(([name]) => name);
}

/** A node's own credentials pins in the builder: pickers that store a reference as the
 * pin's default (a run's credentials inputs override it). */
export function NodeCredentials({
  schema,
  pins,
  value,
  onChange,
}: {
  schema: JsonSchema;
  pins: string[];
  value: Record<string, unknown>;
  onChange: (pin: string, ref: CredentialRef | undefined) => void;
}) {
  const credentials = useAsync(() => api.credentials(), []);
  const providers = useAsync(() => api.providers().catch(() => []), []);
  const titles = useMemo(() => new Map((providers.data ?? []).map((p) => [p.name, p.title])), [providers.data]);
  const required = new Set(schema.required ?? []);
  const fields: CredentialsField[] = pins.map((name) => {
    const pin = schema.properties?.[name] ?? {};
    let providers = strings(pin.credentials_provider).map(normalize);
    const discriminator = typeof pin.discriminator === "string" ? pin.discriminator : null;
    const mapping = (pin.discriminator_mapping ?? null) as Record<string, string> | null;
    if (discriminator && mapping) {
      const chosen = value[discriminator] ?? schema.properties?.[discriminator]?.default;
      if (typeof chosen === "string" && mapping[chosen]) providers = [normalize(mapping[chosen])];
    }
    return {
      key: name,
      title: typeof pin.title === "string" ? pin.title : name,
      description: typeof pin.description === "string" ? pin.description : undefined,
      providers,
      types: strings(pin.credentials_types),
      required: required.has(name),
    };
  });
  if (credentials.loading && !credentials.data) return <Spinner label="Loading your credentials…" />;
  if (credentials.error) return <ErrorBox error={credentials.error} retry={credentials.reload} />;
  return (
    <>
      {fields.map((f) => {
        const current = value[f.key] as Partial<CredentialRef> | undefined;
        let options = (credentials.data ?? []).filter((c) => fits(f, c));
        // A reference this user cannot see (another user's export) stays shown as it is.
        if (current?.id && !options.some((c) => c.id === current.id)) {
          const known = (credentials.data ?? []).find((c) => c.id === current.id);
          const note = known ? "does not fit this model" : "not yours";
          const name = known ? credentialLabel(known) : (current.title ?? current.id.slice(0, 8));
          options = [{ id: current.id, provider: current.provider ?? "?", type: current.type ?? "api_key", title: `${name} (${note})` } as CredentialMeta, ...options];
        }
        return (
          <Picker
            key={f.key}
            field={f}
            titles={titles}
            none="— none: the run's or the platform's —"
            options={options}
            value={current?.id ? (current as CredentialRef) : undefined}
            onChange={(ref) => onChange(f.key, ref)}
          />
        );
      })}
    </>
  );
}
