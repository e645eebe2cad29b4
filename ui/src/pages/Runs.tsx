import { useEffect, useMemo, useState } from "react";
import { api, type LibraryAgent, type NodeExecution, type Run, type RunDetail } from "../api/endpoints";
import { isTerminal, watchRun } from "../live";
import { Link, navigate, useDocumentTitle, useLocation } from "../router";
import { duration, Empty, ErrorBox, errorText, formatTime, preview, Spinner, StatusBadge, toast, useAsync } from "../ui";

const STATUSES = ["QUEUED", "RUNNING", "REVIEW", "COMPLETED", "FAILED", "TERMINATED"];

export function runCost(run: Run): number | null {
  const cost = (run.stats as Record<string, unknown> | undefined)?.cost;
  return typeof cost === "number" ? cost : null;
}

export function Runs() {
  const { query } = useLocation();
  const graphId = query.get("graph");
  const status = query.get("status") ?? "";
  const [page, setPage] = useState(1);
  useEffect(() => setPage(1), [graphId]);
  useDocumentTitle("Runs");
  const library = useAsync(() => api.library(true), []);
  const runs = useAsync(() => (graphId ? api.graphRuns(graphId, page) : api.runs(page)), [graphId, page]);
  const names = useMemo(() => new Map((library.data ?? []).map((a: LibraryAgent) => [a.graph_id, a.name])), [library.data]);
  const items = (runs.data?.items ?? []).filter((r) => !status || r.status === status);

  const setQuery = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    const text = next.toString();
    navigate(`/runs${text ? `?${text}` : ""}`, true);
  };

  return (
    <div>
      <div className="page-head">
        <h1>{graphId ? `Runs of ${names.get(graphId) ?? "agent"}` : "Runs"}</h1>
        {graphId && (
          <div className="actions">
            <Link className="btn" to={`/build/${graphId}`}>
              Open agent
            </Link>
            <Link className="btn" to="/runs">
              All runs
            </Link>
          </div>
        )}
      </div>
      <div className="toolbar">
        <label className="field field-inline">
          <span>Agent</span>
          <select value={graphId ?? ""} onChange={(e) => setQuery("graph", e.target.value)}>
            <option value="">All agents</option>
            {(library.data ?? []).map((a) => (
              <option key={a.id} value={a.graph_id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <div className="chips" role="group" aria-label="Filter by status">
          {["", ...STATUSES].map((s) => (
            <button
              key={s || "all"}
              type="button"
              className={s === status ? "chip chip-on" : "chip"}
              aria-pressed={s === status}
              onClick={() => setQuery("status", s)}
            >
              {s || "All"}
            </button>
          ))}
        </div>
        <button type="button" className="btn btn-small" onClick={runs.reload}>
          Refresh
        </button>
      </div>
      {runs.loading && !runs.data ? (
        <Spinner />
      ) : runs.error ? (
        <ErrorBox error={runs.error} retry={runs.reload} />
      ) : items.length === 0 ? (
        <Empty>{status ? `No ${status.toLowerCase()} runs on this page.` : "No runs yet. Open an agent and press Run."}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table runs-table">
            <thead>
              <tr>
                <th scope="col">Status</th>
                {!graphId && <th scope="col">Agent</th>}
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">Cost</th>
                <th scope="col">Outputs</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td data-label="Status">
                    <Link to={`/runs/${r.graph_id}/${r.id}`} aria-label={`Run ${r.id.slice(0, 8)} ${r.status}`}>
                      <StatusBadge status={r.status} />
                    </Link>
                  </td>
                  {!graphId && (
                    <td data-label="Agent">
                      <Link to={`/runs?graph=${encodeURIComponent(r.graph_id)}`}>{names.get(r.graph_id) ?? r.graph_id.slice(0, 8)}</Link>{" "}
                      <span className="muted">v{r.graph_version}</span>
                    </td>
                  )}
                  <td data-label="Started">{formatTime(r.started_at ?? r.created_at)}</td>
                  <td data-label="Duration">{duration(r.started_at, r.ended_at)}</td>
                  <td data-label="Cost">{runCost(r) ?? "—"}</td>
                  <td data-label="Outputs" className="cell-preview">
                    {r.error ? <span className="text-error">{preview(r.error, 80)}</span> : preview(r.outputs, 80)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {runs.data && runs.data.pagination.total_pages > 1 && (
        <nav className="pager" aria-label="Pages">
          <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Newer
          </button>
          <span>
            page {page} of {runs.data.pagination.total_pages}
          </span>
          <button
            type="button"
            className="btn btn-small"
            disabled={page >= runs.data.pagination.total_pages}
            onClick={() => setPage(page + 1)}
          >
            Older
          </button>
        </nav>
      )}
    </div>
  );
}

/** One run, readable on a phone: status, outputs, and each node's inputs/outputs/error. */
export function RunDetailPage({ graphId, execId }: { graphId: string; execId: string }) {
  useDocumentTitle("Run");
  const detail = useAsync(() => api.run(graphId, execId), [graphId, execId]);
  const [run, setRun] = useState<Run | null>(null);
  const [nodes, setNodes] = useState<Map<string, NodeExecution>>(new Map());
  const [stopping, setStopping] = useState(false);
  const version = detail.data?.graph_version;
  // Which block each node is, in the version that ran (ids differ between versions).
  const blockNames = useAsync(async () => {
    if (!version) return new Map<string, string>();
    const [graph, blocks] = await Promise.all([api.graph(graphId, version), api.blocks()]);
    const byId = new Map(blocks.map((b) => [b.id, b.name.replace(/Block$/, "")]));
    return new Map((graph.nodes ?? []).map((n) => [n.id, byId.get(n.block_id) ?? n.block_id]));
  }, [graphId, version]);

  useEffect(() => {
    if (!detail.data) return;
    setRun(detail.data);
    setNodes(new Map(detail.data.node_executions.map((n) => [n.node_exec_id, n])));
    if (isTerminal(detail.data.status)) return;
    const w = watchRun(graphId, execId, {
      onRun: setRun,
      onNode: (n) => setNodes((m) => new Map(m).set(n.node_exec_id, n)),
    });
    return () => w.close();
  }, [detail.data, graphId, execId]);

  if (detail.loading && !detail.data) return <Spinner />;
  if (detail.error) return <ErrorBox error={detail.error} retry={detail.reload} />;
  const r = (run ?? detail.data) as RunDetail;
  const list = [...nodes.values()].sort((a, b) => a.seq - b.seq);
  const stop = async () => {
    setStopping(true);
    try {
      setRun(await api.stop(graphId, execId));
    } catch (error) {
      toast(errorText(error), "error");
    } finally {
      setStopping(false);
    }
  };
  return (
    <div className="run-detail">
      <div className="page-head">
        <h1>
          Run <code>{execId.slice(0, 8)}</code> <StatusBadge status={r.status} />
        </h1>
        <div className="actions">
          {!isTerminal(r.status) && (
            <button type="button" className="btn btn-danger" onClick={() => void stop()} disabled={stopping}>
              {stopping ? "Stopping…" : "Stop"}
            </button>
          )}
          <Link className="btn" to={`/build/${graphId}?exec=${encodeURIComponent(execId)}`}>
            Show on canvas
          </Link>
          <Link className="btn" to={`/runs?graph=${encodeURIComponent(graphId)}`}>
            Agent's runs
          </Link>
        </div>
      </div>
      <dl className="facts">
        <dt>Started</dt>
        <dd>{formatTime(r.started_at ?? r.created_at)}</dd>
        <dt>Duration</dt>
        <dd>{duration(r.started_at, r.ended_at)}</dd>
        <dt>Cost</dt>
        <dd>{runCost(r) ?? "—"}</dd>
        <dt>Version</dt>
        <dd>v{r.graph_version}</dd>
      </dl>
      {r.status === "REVIEW" && <ReviewNotice execId={execId} />}
      {r.error && <p className="state state-error">{r.error}</p>}
      <section className="card">
        <h2>Inputs</h2>
        <Values value={r.inputs} />
        <h2>Outputs</h2>
        <Values value={r.outputs} />
      </section>
      <RunReviews execId={execId} status={r.status} />
      <section>
        <h2>Node executions</h2>
        {list.length === 0 ? (
          <Empty>No node has run yet.</Empty>
        ) : (
          <ol className="node-runs">
            {list.map((n) => (
              <li key={n.node_exec_id} className="card">
                <div className="node-run-head">
                  <StatusBadge status={n.status} /> <strong>{blockNames.data?.get(n.node_id) ?? "node"}</strong>{" "}
                  <code>{n.node_id.slice(0, 8)}</code>
                  <span className="muted">{duration(n.start_time, n.end_time)}</span>
                </div>
                {n.error && <p className="text-error">{n.error}</p>}
                <details>
                  <summary>Inputs and outputs</summary>
                  <h3>Inputs</h3>
                  <Values value={n.input_data} />
                  <h3>Outputs</h3>
                  <Values value={n.output_data} />
                </details>
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

/** The run's human reviews, waiting or decided (none: nothing shown). */
function RunReviews({ execId, status }: { execId: string; status: string }) {
  const reviews = useAsync(() => api.runReviews(execId).then((r) => r.reviews), [execId, status]);
  if (!reviews.data?.length) return null;
  return (
    <section className="card">
      <h2>Human reviews</h2>
      <ul className="plain-list">
        {reviews.data.map((v) => (
          <li key={v.node_exec_id}>
            <StatusBadge status={v.status} /> <strong>{v.name}</strong>{" "}
            <span className="muted small">
              {v.reviewed_at ? `decided ${formatTime(v.reviewed_at)}` : `waiting since ${formatTime(v.created_at)}`}
            </span>
            {v.message && <p className="small">“{v.message}”</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A run paused for a person: where to decide. */
export function ReviewNotice({ execId, compact }: { execId: string; compact?: boolean }) {
  return (
    <div className="state state-review" role="status" data-testid="review-notice">
      {compact ? "Waiting for a human review." : "This run is paused: a step waits for a human review. It resumes once every review of the run is decided."}{" "}
      <Link to={`/reviews?run=${encodeURIComponent(execId)}`} className="btn btn-small btn-primary">
        Review now
      </Link>
    </div>
  );
}

export function Values({ value }: { value: unknown }) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return <p className="muted">none</p>;
    return (
      <dl className="values">
        {entries.map(([k, v]) => (
          <div key={k} className="value-row">
            <dt>{k}</dt>
            <dd>
              <pre>{typeof v === "string" ? v : JSON.stringify(v, null, 2)}</pre>
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <pre>{JSON.stringify(value, null, 2)}</pre>;
}
