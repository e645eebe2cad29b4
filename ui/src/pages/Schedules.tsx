import { useEffect, useMemo, useState, type FormEvent } from "react";
import { api, type Block, type CredentialRef, type Graph, type Schedule } from "../api/endpoints";
import { describeCron, nextRuns } from "../cron";
import { CredentialsInputs, credentialsFields } from "../CredentialsPicker";
import { SchemaForm } from "../SchemaForm";
import type { JsonSchema } from "../builder/model";
import { Link, useDocumentTitle, useLocation } from "../router";
import { Empty, ErrorBox, errorText, formatTime, Spinner, StatusBadge, toast, useAsync } from "../ui";

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const list = intl.supportedValuesOf?.("timeZone") ?? [];
  return Array.from(new Set(["UTC", browserZone, ...list]));
}

export function Schedules() {
  useDocumentTitle("Schedules");
  const schedules = useAsync(() => api.schedules(), []);
  const library = useAsync(() => api.library(false), []);
  const names = useMemo(() => new Map((library.data ?? []).map((a) => [a.graph_id, a.name])), [library.data]);
  const [creating, setCreating] = useState(false);
  const { query } = useLocation();
  useEffect(() => {
    if (query.get("graph")) setCreating(true);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      toast(done);
      schedules.reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };

  return (
    <div>
      <div className="page-head">
        <h1>Schedules</h1>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {creating ? "Close" : "New schedule"}
          </button>
        </div>
      </div>
      {creating && (
        <CreateSchedule
          initialGraph={query.get("graph") ?? ""}
          onCreated={() => {
            setCreating(false);
            schedules.reload();
          }}
        />
      )}
      {schedules.loading && !schedules.data ? (
        <Spinner />
      ) : schedules.error ? (
        <ErrorBox error={schedules.error} retry={schedules.reload} />
      ) : !schedules.data?.length ? (
        <Empty>No schedules. Create one to run an agent on a cron timetable.</Empty>
      ) : (
        <ul className="schedule-list" aria-label="Schedules">
          {schedules.data.map((s) => (
            <ScheduleItem
              key={s.id}
              schedule={s}
              agent={names.get(s.graph_id)}
              onPause={() => act(() => api.pauseSchedule(s.id), `Paused “${s.name}”`)}
              onResume={() => act(() => api.resumeSchedule(s.id), `Resumed “${s.name}”`)}
              onDelete={() => window.confirm(`Delete the schedule “${s.name}”?`) && act(() => api.deleteSchedule(s.id), `Deleted “${s.name}”`)}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

/** The titles (or ids) of a schedule's own credential references, for its summary line. */
function ownCredentials(s: Schedule): string {
  const refs = Object.values((s.credentials ?? {}) as Record<string, Partial<CredentialRef>>);
  return refs.map((r) => r.title || r.id || "").filter(Boolean).join(", ");
}

function ScheduleItem({ schedule: s, agent, onPause, onResume, onDelete }: { schedule: Schedule; agent?: string; onPause: () => void; onResume: () => void; onDelete: () => void }) {
  const [open, setOpen] = useState(false);
  const paused = s.status !== "ACTIVE";
  return (
    <li className="card schedule" data-schedule={s.name}>
      <div className="schedule-head">
        <div>
          <h2>
            {s.name} <StatusBadge status={s.status} />
          </h2>
          <p className="meta">
            <Link to={`/build/${s.graph_id}`}>{agent ?? s.graph_id.slice(0, 8)}</Link> v{s.graph_version} · <code>{s.cron}</code> ({describeCron(s.cron)}) ·{" "}
            {s.timezone}
            {s.preset_id ? " · credentials and inputs from a preset" : ""}
            {ownCredentials(s) ? ` · credentials: ${ownCredentials(s)}` : ""}
          </p>
          <p className="meta">
            Next run: {paused ? "— (paused)" : formatTime(s.next_run_time)} · last fire: {formatTime(s.last_fire_at)}
          </p>
          {s.paused_reason && <p className="text-error">{s.paused_reason}</p>}
        </div>
        <div className="actions">
          {paused ? (
            <button type="button" className="btn btn-small" onClick={onResume}>
              Resume
            </button>
          ) : (
            <button type="button" className="btn btn-small" onClick={onPause}>
              Pause
            </button>
          )}
          <button type="button" className="btn btn-small" onClick={() => setOpen(!open)} aria-expanded={open}>
            {open ? "Hide" : "Fires"}
          </button>
          <button type="button" className="btn btn-small btn-danger" onClick={onDelete}>
            Delete
          </button>
        </div>
      </div>
      {open && <ScheduleDetails schedule={s} />}
    </li>
  );
}

function ScheduleDetails({ schedule: s }: { schedule: Schedule }) {
  const fires = useAsync(() => api.fires(s.id), [s.id]);
  const upcoming = s.status === "ACTIVE" ? nextRuns(s.cron, s.timezone, 5) : [];
  return (
    <div className="schedule-details">
      <div>
        <h3>Next runs</h3>
        {upcoming?.length ? (
          <ol>
            {upcoming.map((d) => (
              <li key={d.getTime()}>{d.toLocaleString(undefined, { timeZone: s.timezone, dateStyle: "medium", timeStyle: "short" })}</li>
            ))}
          </ol>
        ) : (
          <p className="muted">None while paused.</p>
        )}
      </div>
      <div>
        <h3>Fire history</h3>
        {fires.loading ? (
          <Spinner />
        ) : fires.error ? (
          <ErrorBox error={fires.error} retry={fires.reload} />
        ) : !fires.data?.items.length ? (
          <p className="muted">It has not fired yet.</p>
        ) : (
          <ul>
            {fires.data.items.map((f) => (
              <li key={`${f.fire_time}`}>
                {formatTime(f.fire_time)} <StatusBadge status={f.status} />{" "}
                {f.graph_exec_id && <Link to={`/runs/${s.graph_id}/${f.graph_exec_id}`}>run</Link>} {f.error && <span className="text-error">{f.error}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

const PRESETS: { id: string; label: string; make: (t: { h: number; m: number; d: number; wd: number }) => string }[] = [
  { id: "hourly", label: "Every hour", make: ({ m }) => `${m} * * * *` },
  { id: "daily", label: "Every day", make: ({ h, m }) => `${m} ${h} * * *` },
  { id: "weekdays", label: "Every weekday", make: ({ h, m }) => `${m} ${h} * * 1-5` },
  { id: "weekly", label: "Every week", make: ({ h, m, wd }) => `${m} ${h} * * ${wd}` },
  { id: "monthly", label: "Every month", make: ({ h, m, d }) => `${m} ${h} ${d} * *` },
  { id: "custom", label: "Custom expression", make: () => "" },
];

function CreateSchedule({ initialGraph, onCreated }: { initialGraph: string; onCreated: () => void }) {
  const library = useAsync(() => api.library(false), []);
  const tz = useAsync(() => api.timezone().then((t) => (t.timezone && t.timezone !== "not-set" ? t.timezone : browserZone)).catch(() => browserZone), []);
  const [graphId, setGraphId] = useState(initialGraph);
  const [graph, setGraph] = useState<Graph | null>(null);
  const [name, setName] = useState("");
  const [preset, setPreset] = useState("daily");
  const [time, setTime] = useState({ h: 9, m: 0, d: 1, wd: 1 });
  const [cron, setCron] = useState("0 9 * * *");
  const [timezone, setTimezone] = useState("");
  const [inputs, setInputs] = useState<Record<string, unknown>>({});
  const [credentials, setCredentials] = useState<Record<string, CredentialRef>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const zoneList = useMemo(zones, []);
  const blocks = useAsync(() => api.blocks(), []);
  const blockMap = useMemo(() => new Map<string, Block>((blocks.data ?? []).map((b) => [b.id, b])), [blocks.data]);
  const credentialFields = useMemo(() => (graph ? credentialsFields(graph, blockMap) : []), [graph, blockMap]);

  useEffect(() => {
    if (tz.data && !timezone) setTimezone(tz.data);
  }, [tz.data, timezone]);
  useEffect(() => {
    if (!graphId && library.data?.length) setGraphId(library.data[0].graph_id);
  }, [library.data, graphId]);
  useEffect(() => {
    setGraph(null);
    setCredentials({});
    if (!graphId) return;
    api.graph(graphId).then(setGraph, setError);
  }, [graphId]);
  const applyPreset = (id: string, t = time) => {
    setPreset(id);
    const p = PRESETS.find((x) => x.id === id);
    if (p && id !== "custom") setCron(p.make(t));
  };
  const upcoming = timezone ? nextRuns(cron, timezone, 3) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    type Body = Parameters<typeof api.createSchedule>[1];
    // The schedule keeps the picked references itself (the server checks them and every fire
    // runs with them); only the fields of the graph picked now are sent.
    const refs = Object.fromEntries(Object.entries(credentials).filter(([k]) => credentialFields.some((f) => f.key === k)));
    try {
      await api.createSchedule(graphId, {
        name: name.trim(),
        cron: cron.trim(),
        timezone: (timezone || null) as Body["timezone"],
        inputs: inputs as Body["inputs"],
        graph_version: graph?.version ?? null,
        credentials: refs as Body["credentials"],
      });
      toast(`Scheduled “${name.trim()}”`);
      onCreated();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  if (library.loading) return <Spinner />;
  if (!library.data?.length) return <Empty>Import or build an agent first: schedules run agents.</Empty>;
  const showTime = preset !== "custom";
  return (
    <form className="card schedule-form" onSubmit={submit} aria-label="New schedule">
      <h2>New schedule</h2>
      <div className="grid-2">
        <label className="field">
          <span>Agent</span>
          <select value={graphId} onChange={(e) => setGraphId(e.target.value)} required>
            {library.data.map((a) => (
              <option key={a.id} value={a.graph_id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} name="schedule-name" />
        </label>
        <label className="field">
          <span>Repeat</span>
          <select value={preset} onChange={(e) => applyPreset(e.target.value)}>
            {PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {showTime && (
          <div className="field-row">
            {preset !== "hourly" && (
              <label className="field">
                <span>Time</span>
                <input
                  type="time"
                  value={`${String(time.h).padStart(2, "0")}:${String(time.m).padStart(2, "0")}`}
                  onChange={(e) => {
                    const [h, m] = e.target.value.split(":").map(Number);
                    const t = { ...time, h: h || 0, m: m || 0 };
                    setTime(t);
                    applyPreset(preset, t);
                  }}
                />
              </label>
            )}
            {preset === "hourly" && (
              <label className="field">
                <span>Minute</span>
                <input type="number" min={0} max={59} value={time.m} onChange={(e) => {
                  const t = { ...time, m: Math.max(0, Math.min(59, Number(e.target.value) || 0)) };
                  setTime(t);
                  applyPreset(preset, t);
                }} />
              </label>
            )}
            {preset === "weekly" && (
              <label className="field">
                <span>Day</span>
                <select value={time.wd} onChange={(e) => {
                  const t = { ...time, wd: Number(e.target.value) };
                  setTime(t);
                  applyPreset(preset, t);
                }}>
                  {["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"].map((d, i) => (
                    <option key={d} value={i}>
                      {d}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {preset === "monthly" && (
              <label className="field">
                <span>Day of month</span>
                <input type="number" min={1} max={31} value={time.d} onChange={(e) => {
                  const t = { ...time, d: Math.max(1, Math.min(31, Number(e.target.value) || 1)) };
                  setTime(t);
                  applyPreset(preset, t);
                }} />
              </label>
            )}
          </div>
        )}
        <label className="field">
          <span>Cron expression</span>
          <input className="mono" value={cron} onChange={(e) => {
            setCron(e.target.value);
            setPreset("custom");
          }} required name="cron" aria-describedby="cron-help" />
          <small id="cron-help" className="muted">
            {describeCron(cron)} minute hour day month weekday (a sixth leading field is seconds).
          </small>
        </label>
        <label className="field">
          <span>Timezone</span>
          <input list="tz-list" value={timezone} onChange={(e) => setTimezone(e.target.value)} required />
          <datalist id="tz-list">
            {zoneList.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </label>
      </div>
      <p className="muted small">
        Next runs (preview):{" "}
        {upcoming === null ? "—" : upcoming.length === 0 ? "none within a year" : upcoming.map((d) => d.toLocaleString(undefined, { timeZone: timezone, dateStyle: "medium", timeStyle: "short" })).join(" · ")}
      </p>
      <h3>Inputs</h3>
      {graph ? (
        <SchemaForm schema={(graph.input_schema ?? {}) as JsonSchema} value={inputs} untypedAsText onChange={(k, v) => setInputs((x) => {
          const next = { ...x };
          if (v === undefined) delete next[k];
          else next[k] = v;
          return next;
        })} />
      ) : (
        <Spinner label="Loading the agent's inputs…" />
      )}
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
        <button type="submit" className="btn btn-primary" disabled={busy || !graphId || !name.trim()}>
          {busy ? "Creating…" : "Create schedule"}
        </button>
      </div>
    </form>
  );
}
