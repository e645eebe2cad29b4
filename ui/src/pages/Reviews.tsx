// Human reviews: runs paused on a HumanInTheLoop node wait here for a person's decision.
// Approve (with the data as edited, when the review is editable) or reject, with an optional
// message; the run resumes where it paused once its last review is decided.
import { useEffect, useId, useMemo, useState } from "react";
import { api, type Review, type ReviewDecision } from "../api/endpoints";
import { Link, navigate, useDocumentTitle, useLocation } from "../router";
import { Empty, ErrorBox, formatTime, Spinner, toast, useAsync } from "../ui";

type Decided = { review: Review; approved: boolean; resumed: boolean };

export function Reviews() {
  useDocumentTitle("Reviews");
  const { query } = useLocation();
  const runFilter = query.get("run");
  const pending = useAsync(() => api.pendingReviews(), []);
  const library = useAsync(() => api.library(true), []);
  const names = useMemo(() => new Map((library.data ?? []).map((a) => [a.graph_id, a.name])), [library.data]);
  const [decided, setDecided] = useState<Decided[]>([]);
  // New reviews show up by themselves (a card being edited keeps its edits).
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && pending.reload(), 15000);
    return () => clearInterval(timer);
  }, [pending.reload]);
  const done = new Set(decided.map((d) => d.review.node_exec_id));
  const items = (pending.data ?? []).filter((r) => !done.has(r.node_exec_id) && (!runFilter || r.graph_exec_id === runFilter));

  return (
    <div className="reviews">
      <div className="page-head">
        <h1>Reviews</h1>
        <div className="actions">
          {runFilter && (
            <button type="button" className="btn btn-small" onClick={() => navigate("/reviews", true)}>
              Every run
            </button>
          )}
          <button type="button" className="btn btn-small" onClick={pending.reload}>
            Refresh
          </button>
        </div>
      </div>
      <p className="muted">
        Runs that reached a human-in-the-loop step wait here. Approve to let the data flow on (edited, where the step allows it), or reject it.
        {runFilter && (
          <>
            {" "}
            Showing the reviews of run <code>{runFilter.slice(0, 8)}</code>.
          </>
        )}
      </p>
      {decided.length > 0 && (
        <ul className="decided" aria-label="Decided reviews">
          {decided.map((d) => (
            <li key={d.review.node_exec_id} className="card decided-item" role="status">
              {d.approved ? "Approved" : "Rejected"} “{d.review.name}”.{" "}
              {d.resumed ? "The run resumes." : "The run waits for its other reviews."}{" "}
              <Link to={`/runs/${d.review.graph_id}/${d.review.graph_exec_id}`}>View the run</Link>
            </li>
          ))}
        </ul>
      )}
      {pending.loading && !pending.data ? (
        <Spinner />
      ) : pending.error ? (
        <ErrorBox error={pending.error} retry={pending.reload} />
      ) : items.length === 0 ? (
        <Empty>{runFilter ? "This run has no review waiting." : "Nothing waits for your review."}</Empty>
      ) : (
        <ul className="review-list" aria-label="Pending reviews">
          {items.map((r) => (
            <ReviewCard
              key={r.node_exec_id}
              review={r}
              agent={names.get(r.graph_id)}
              onDecided={(approved, resumed) => setDecided((xs) => [{ review: r, approved, resumed }, ...xs])}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

/** The payload as the reviewer edits it: a string as plain text, anything else as JSON. */
function payloadText(value: unknown): string {
  if (typeof value === "string") return value;
  return JSON.stringify(value ?? null, null, 2);
}

function ReviewCard({ review: r, agent, onDecided }: { review: Review; agent?: string; onDecided: (approved: boolean, resumed: boolean) => void }) {
  const id = useId();
  const asText = typeof r.payload === "string";
  const original = payloadText(r.payload);
  const [text, setText] = useState(original);
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState<"approve" | "reject" | null>(null);
  const [error, setError] = useState<unknown>(null);

  let parsed: { ok: true; value: unknown } | { ok: false; error: string } = { ok: true, value: r.payload };
  if (r.editable && text !== original) {
    if (asText) parsed = { ok: true, value: text };
    else {
      try {
        parsed = { ok: true, value: JSON.parse(text) };
      } catch (exc) {
        parsed = { ok: false, error: `Not valid JSON: ${(exc as Error).message}` };
      }
    }
  }
  const edited = r.editable && text !== original;

  const decide = async (approved: boolean) => {
    setError(null);
    setBusy(approved ? "approve" : "reject");
    try {
      const item: ReviewDecision = { node_exec_id: r.node_exec_id, approved };
      if (approved && edited && parsed.ok) item.reviewed_data = parsed.value as ReviewDecision["reviewed_data"]; // parsed JSON
      if (message.trim()) item.message = message.trim();
      const answer = await api.decideReviews([item]);
      if (answer.decided === 0) {
        toast("This review was decided already (elsewhere).");
      } else toast(approved ? `Approved “${r.name}”` : `Rejected “${r.name}”`);
      onDecided(approved, answer.resumed.includes(r.graph_exec_id));
    } catch (exc) {
      setError(exc);
      setBusy(null);
    }
  };

  return (
    <li className="card review" data-review={r.node_exec_id}>
      <div className="review-head">
        <h2>{r.name}</h2>
        <p className="meta">
          {agent ?? "Agent"} v{r.graph_version} · run{" "}
          <Link to={`/runs/${r.graph_id}/${r.graph_exec_id}`}>
            <code>{r.graph_exec_id.slice(0, 8)}</code>
          </Link>{" "}
          · waiting since {formatTime(r.created_at)}
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${id}-data`}>
          Data {r.editable ? <span className="muted small">(editable{asText ? ", text" : ", JSON"})</span> : <span className="muted small">(read-only)</span>}
        </label>
        {r.editable ? (
          <textarea
            id={`${id}-data`}
            className="mono review-data"
            rows={Math.min(16, Math.max(3, text.split("\n").length + 1))}
            value={text}
            spellCheck={false}
            aria-invalid={!parsed.ok}
            aria-describedby={!parsed.ok ? `${id}-bad` : undefined}
            onChange={(e) => setText(e.target.value)}
          />
        ) : (
          <pre id={`${id}-data`} className="review-data card">
            {original}
          </pre>
        )}
        {!parsed.ok && (
          <small id={`${id}-bad`} className="text-error" role="alert">
            {parsed.error}
          </small>
        )}
        {edited && parsed.ok && (
          <div>
            <button type="button" className="btn btn-link small" onClick={() => setText(original)}>
              Undo my edits
            </button>
          </div>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-msg`}>Message (optional)</label>
        <textarea id={`${id}-msg`} rows={2} maxLength={10000} value={message} onChange={(e) => setMessage(e.target.value)} />
      </div>
      {error ? <ErrorBox error={error} /> : null}
      <div className="actions">
        <button type="button" className="btn btn-primary" disabled={!!busy || !parsed.ok} onClick={() => void decide(true)}>
          {busy === "approve" ? "Approving…" : edited ? "Approve with edits" : "Approve"}
        </button>
        <button type="button" className="btn btn-danger" disabled={!!busy} onClick={() => void decide(false)}>
          {busy === "reject" ? "Rejecting…" : "Reject"}
        </button>
      </div>
    </li>
  );
}
