import { useMemo, useRef, useState, type DragEvent } from "react";
import { ApiError } from "../api/client";
import { api, type Block, type LibraryAgent } from "../api/endpoints";
import { Link, navigate, useDebounced, useDocumentTitle } from "../router";
import { downloadJson, Empty, ErrorBox, errorText, formatTime, Spinner, toast, useAsync } from "../ui";

type Sort = "updated" | "name" | "created";

export function Library() {
  useDocumentTitle("Library");
  const [showArchived, setShowArchived] = useState(false);
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<Sort>("updated");
  const [dragging, setDragging] = useState(false);
  const [importError, setImportError] = useState<{ file: string; error: unknown } | null>(null);
  const [importing, setImporting] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const agents = useAsync(() => api.library(showArchived), [showArchived]);
  const q = useDebounced(search.trim().toLowerCase(), 120);

  const shown = useMemo(() => {
    const list = (agents.data ?? []).filter(
      (a) => !q || a.name.toLowerCase().includes(q) || a.description.toLowerCase().includes(q),
    );
    const by: Record<Sort, (a: LibraryAgent, b: LibraryAgent) => number> = {
      updated: (a, b) => b.updated_at.localeCompare(a.updated_at),
      created: (a, b) => b.created_at.localeCompare(a.created_at),
      name: (a, b) => a.name.localeCompare(b.name),
    };
    return [...list].sort(by[sort]);
  }, [agents.data, q, sort]);

  const importFiles = async (files: FileList | File[]) => {
    const file = Array.from(files)[0];
    if (!file) return;
    setImportError(null);
    setImporting(true);
    try {
      let doc: unknown;
      try {
        doc = JSON.parse(await file.text());
      } catch (exc) {
        throw new ApiError(0, "bad_file", `${file.name} is not a JSON file: ${errorText(exc)}`);
      }
      const graph = await api.importGraph(doc);
      toast(`Imported “${graph.name}” (${graph.nodes?.length ?? 0} nodes)`);
      agents.reload();
    } catch (error) {
      setImportError({ file: file.name, error });
    } finally {
      setImporting(false);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (e.dataTransfer.files.length) void importFiles(e.dataTransfer.files);
  };

  const archive = async (agent: LibraryAgent) => {
    try {
      await api.setArchived(agent.id, !agent.is_archived);
      toast(agent.is_archived ? `Restored “${agent.name}”` : `Archived “${agent.name}”; its schedules were deleted`);
      agents.reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };

  const exportAgent = async (agent: LibraryAgent) => {
    try {
      const doc = await api.exportGraph(agent.graph_id);
      downloadJson(`${agent.name.replace(/[^\w.-]+/g, "_") || "agent"}.json`, doc);
    } catch (error) {
      toast(errorText(error), "error");
    }
  };

  return (
    <div
      className={dragging ? "library dropping" : "library"}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <div className="page-head">
        <h1>Library</h1>
        <div className="actions">
          <button type="button" className="btn" onClick={() => fileInput.current?.click()} disabled={importing}>
            {importing ? "Importing…" : "Import agent file…"}
          </button>
          <input
            ref={fileInput}
            type="file"
            accept=".json,application/json"
            hidden
            data-testid="import-input"
            onChange={(e) => {
              if (e.target.files) void importFiles(e.target.files);
              e.target.value = "";
            }}
          />
          <button type="button" className="btn btn-primary" onClick={() => navigate("/build/new")}>
            New agent
          </button>
        </div>
      </div>
      <div className="dropzone" aria-hidden={!dragging}>
        Drop an AutoGPT agent file (.json) anywhere here to import it.
      </div>
      {importError && <ImportErrors file={importError.file} error={importError.error} onClose={() => setImportError(null)} />}
      <div className="toolbar">
        <label className="field field-inline">
          <span>Search</span>
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="Name or description" />
        </label>
        <label className="field field-inline">
          <span>Sort</span>
          <select value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
            <option value="updated">Last change</option>
            <option value="created">Created</option>
            <option value="name">Name</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> Show archived
        </label>
      </div>
      {agents.loading && !agents.data ? (
        <Spinner />
      ) : agents.error ? (
        <ErrorBox error={agents.error} retry={agents.reload} />
      ) : shown.length === 0 ? (
        <Empty>
          {agents.data?.length ? (
            "No agent matches the search."
          ) : (
            <>
              <p>No agents yet.</p>
              <p>Drop an AutoGPT agent export here, or start a new agent on the canvas.</p>
            </>
          )}
        </Empty>
      ) : (
        <ul className="agent-list" aria-label="Agents">
          {shown.map((a) => (
            <li key={a.id} className={a.is_archived ? "card agent archived" : "card agent"}>
              <div className="agent-main">
                <h2>
                  <Link to={`/build/${a.graph_id}`}>{a.name || "Untitled agent"}</Link>
                  {a.is_archived && <span className="badge">archived</span>}
                </h2>
                {a.description && <p className="muted clamp">{a.description}</p>}
                <p className="meta">
                  v{a.graph_version} · changed {formatTime(a.updated_at)}
                </p>
              </div>
              <div className="agent-actions">
                <Link className="btn btn-small" to={`/build/${a.graph_id}`}>
                  Open
                </Link>
                <Link className="btn btn-small" to={`/runs?graph=${encodeURIComponent(a.graph_id)}`}>
                  Runs
                </Link>
                <button type="button" className="btn btn-small" onClick={() => void exportAgent(a)}>
                  Export
                </button>
                <button type="button" className="btn btn-small" onClick={() => void archive(a)}>
                  {a.is_archived ? "Restore" : "Archive"}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The importer's errors, grouped by node, with the block's name when it is known. */
function ImportErrors({ file, error, onClose }: { file: string; error: unknown; onClose: () => void }) {
  const blocks = useAsync(() => api.blocks().catch(() => [] as Block[]), []);
  const byId = new Map((blocks.data ?? []).map((b) => [b.id, b.name]));
  const details = error instanceof ApiError ? error.details : [];
  const groups = new Map<string, typeof details>();
  for (const d of details) {
    const key = d.node_id ? `${d.graph_id ?? ""}|${d.node_id}` : "graph";
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  return (
    <section className="card import-errors" role="alert" aria-labelledby="import-errors-title">
      <div className="page-head">
        <h2 id="import-errors-title">Could not import {file}</h2>
        <button type="button" className="btn btn-small" onClick={onClose}>
          Dismiss
        </button>
      </div>
      <p>{errorText(error)}</p>
      {groups.size > 0 && (
        <ul>
          {[...groups.entries()].map(([key, items]) => (
            <li key={key}>
              {key === "graph" ? (
                <strong>Graph</strong>
              ) : (
                <strong>
                  Node {items[0].node_id?.slice(0, 8)}
                  {items[0].block_id && ` (${byId.get(items[0].block_id) ?? `unknown block ${items[0].block_id}`})`}
                </strong>
              )}
              <ul>
                {items.map((d, i) => (
                  <li key={i}>
                    {d.pin ? (
                      <>
                        pin <code>{d.pin}</code>:{" "}
                      </>
                    ) : d.field ? (
                      <>
                        <code>{d.field}</code>:{" "}
                      </>
                    ) : null}
                    {String(d.message ?? "")}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
