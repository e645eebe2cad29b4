import { useState, type FormEvent } from "react";
import { api, type Permission } from "../api/endpoints";
import { useDocumentTitle } from "../router";
import { Empty, ErrorBox, errorText, formatTime, Spinner, StatusBadge, toast, useAsync } from "../ui";

const PERMISSIONS: Permission[] = [
  "IDENTITY",
  "EXECUTE_GRAPH",
  "READ_GRAPH",
  "WRITE_GRAPH",
  "EXECUTE_BLOCK",
  "READ_BLOCK",
  "READ_SCHEDULE",
  "WRITE_SCHEDULE",
  "READ_CREDITS",
  "MANAGE_API_KEYS",
  "READ_INTEGRATIONS",
  "MANAGE_INTEGRATIONS",
  "DELETE_INTEGRATIONS",
];

export function ApiKeys() {
  useDocumentTitle("API keys");
  const keys = useAsync(() => api.apiKeys(), []);
  const [name, setName] = useState("");
  const [perms, setPerms] = useState<Set<Permission>>(new Set(["IDENTITY", "READ_GRAPH", "EXECUTE_GRAPH"]));
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const made = await api.createApiKey({ name: name.trim(), permissions: [...perms] });
      setSecret(made.plain_text_key);
      setName("");
      keys.reload();
    } catch (exc) {
      setError(exc);
    }
  };
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      toast(done);
      keys.reload();
    } catch (exc) {
      toast(errorText(exc), "error");
    }
  };

  return (
    <div>
      <h1>API keys</h1>
      <p className="muted">Keys let scripts call the API (header <code>X-API-Key</code>). A key is shown once, when it is made.</p>
      {secret && (
        <div className="card secret" role="status">
          <h2>Your new key</h2>
          <p>Copy it now: it cannot be shown again.</p>
          <code className="secret-value" data-testid="new-key">
            {secret}
          </code>
          <div className="actions">
            <button type="button" className="btn btn-small" onClick={() => navigator.clipboard?.writeText(secret).then(() => toast("Copied"), () => undefined)}>
              Copy
            </button>
            <button type="button" className="btn btn-small" onClick={() => setSecret(null)}>
              I have saved it
            </button>
          </div>
        </div>
      )}
      <form className="card" onSubmit={create} aria-label="New API key">
        <h2>New key</h2>
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </label>
        <fieldset className="perm-grid">
          <legend>Permissions</legend>
          {PERMISSIONS.map((p) => (
            <label key={p} className="check">
              <input
                type="checkbox"
                checked={perms.has(p)}
                onChange={(e) => {
                  const next = new Set(perms);
                  if (e.target.checked) next.add(p);
                  else next.delete(p);
                  setPerms(next);
                }}
              />{" "}
              {p}
            </label>
          ))}
        </fieldset>
        {error ? <ErrorBox error={error} /> : null}
        <button type="submit" className="btn btn-primary" disabled={!name.trim() || perms.size === 0}>
          Create key
        </button>
      </form>
      {keys.loading && !keys.data ? (
        <Spinner />
      ) : keys.error ? (
        <ErrorBox error={keys.error} retry={keys.reload} />
      ) : !keys.data?.length ? (
        <Empty>No API keys yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">Permissions</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td data-label="Name">{k.name}</td>
                  <td data-label="Key">
                    <code>
                      {k.head}…{k.tail}
                    </code>
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={k.status} />
                  </td>
                  <td data-label="Permissions" className="small">
                    {k.permissions.join(", ")}
                  </td>
                  <td data-label="Last used">{formatTime(k.last_used_at)}</td>
                  <td data-label="Actions">
                    {k.status === "ACTIVE" && (
                      <button type="button" className="btn btn-small" onClick={() => act(() => api.suspendApiKey(k.id), `Suspended ${k.name}`)}>
                        Suspend
                      </button>
                    )}
                    {k.status !== "REVOKED" && (
                      <button type="button" className="btn btn-small btn-danger" onClick={() => window.confirm(`Revoke ${k.name} for good?`) && act(() => api.revokeApiKey(k.id), `Revoked ${k.name}`)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
