// Integration credentials: the user's own (API keys, user/password, host-scoped headers,
// OAuth connections) and the platform's. Secrets go in once, in password fields, and are
// never shown again: the API answers metadata only.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { api, type CredentialMeta, type CredentialType, type NewCredential, type Provider } from "../api/endpoints";
import { Link, useDocumentTitle, useLocation } from "../router";
import { Empty, ErrorBox, errorText, formatTime, Spinner, toast, useAsync } from "../ui";

export const TYPE_LABELS: Record<CredentialType, string> = {
  api_key: "API key",
  oauth2: "OAuth connection",
  user_password: "User name and password",
  host_scoped: "Host-scoped headers",
};

/** What the OAuth callback page needs to finish a login started here (by state token). */
const OAUTH_KEY = (state: string) => `autoplat.oauth.${state}`;
type PendingLogin = { provider: string; returnTo: string; title?: string };

/** Start an OAuth login: remember which provider it is for, then go to the provider. */
export async function startOAuth(provider: Provider, returnTo: string, title?: string): Promise<void> {
  const start = await api.oauthLogin(provider.name, provider.default_scopes ?? []);
  const pending: PendingLogin = { provider: provider.name, returnTo, title };
  sessionStorage.setItem(OAUTH_KEY(start.state_token), JSON.stringify(pending));
  window.location.assign(start.login_url);
}

export function credentialLabel(c: CredentialMeta): string {
  const name = c.title || c.username || c.host || `${TYPE_LABELS[c.type] ?? c.type} ${c.id.slice(0, 8)}`;
  return c.is_system ? `${name} (platform)` : name;
}

export function Credentials() {
  useDocumentTitle("Credentials");
  const { query } = useLocation();
  const credentials = useAsync(() => api.credentials(), []);
  const providers = useAsync(() => api.providers(), []);
  const byName = useMemo(() => new Map((providers.data ?? []).map((p) => [p.name, p])), [providers.data]);

  const remove = async (c: CredentialMeta) => {
    if (!window.confirm(`Delete the credential “${credentialLabel(c)}”? Agents that use it will stop working.`)) return;
    try {
      const answer = await api.deleteCredential(c.provider, c.id);
      toast(answer.revoked ? "Deleted; the provider revoked its tokens" : "Deleted");
      credentials.reload();
    } catch (error) {
      toast(errorText(error), "error");
    }
  };

  const own = (credentials.data ?? []).filter((c) => !c.is_system);
  const platform = (credentials.data ?? []).filter((c) => c.is_system);

  return (
    <div>
      <h1>Credentials</h1>
      <p className="muted">
        Keys and logins your agents' blocks use. They are stored encrypted; a secret is never shown again once saved.
      </p>
      {providers.loading && !providers.data ? (
        <Spinner label="Loading providers…" />
      ) : providers.error ? (
        <ErrorBox error={providers.error} retry={providers.reload} />
      ) : (
        <AddCredential providers={providers.data ?? []} initialProvider={query.get("provider") ?? ""} onAdded={credentials.reload} />
      )}
      <h2>Your credentials</h2>
      {credentials.loading && !credentials.data ? (
        <Spinner />
      ) : credentials.error ? (
        <ErrorBox error={credentials.error} retry={credentials.reload} />
      ) : own.length === 0 ? (
        <Empty>No credentials yet. Add an API key above, or connect an account.</Empty>
      ) : (
        <CredentialTable items={own} providers={byName} onDelete={remove} />
      )}
      {platform.length > 0 && (
        <>
          <h2>Platform credentials</h2>
          <p className="muted small">Offered by this server's operator to every user; runs that use them may be charged.</p>
          <CredentialTable items={platform} providers={byName} />
        </>
      )}
    </div>
  );
}

function CredentialTable({ items, providers, onDelete }: { items: CredentialMeta[]; providers: Map<string, Provider>; onDelete?: (c: CredentialMeta) => void }) {
  return (
    <div className="table-wrap">
      <table className="table credentials-table">
        <thead>
          <tr>
            <th scope="col">Provider</th>
            <th scope="col">Title</th>
            <th scope="col">Type</th>
            <th scope="col">Details</th>
            {onDelete && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id} data-credential={c.id}>
              <td data-label="Provider">{providers.get(c.provider)?.title ?? c.provider}</td>
              <td data-label="Title">{c.title || <span className="muted">untitled</span>}</td>
              <td data-label="Type">{TYPE_LABELS[c.type] ?? c.type}</td>
              <td data-label="Details" className="small">
                {[
                  c.username && `user ${c.username}`,
                  c.host && `host ${c.host}`,
                  c.scopes?.length ? `scopes ${c.scopes.join(", ")}` : null,
                  c.expires_at && `expires ${formatTime(c.expires_at)}`,
                ]
                  .filter(Boolean)
                  .join(" · ") || <span className="muted">—</span>}
              </td>
              {onDelete && (
                <td data-label="Actions">
                  <button type="button" className="btn btn-small btn-danger" onClick={() => onDelete(c)} aria-label={`Delete ${credentialLabel(c)}`}>
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type HeaderRow = { key: number; name: string; value: string };

function AddCredential({ providers, initialProvider, onAdded }: { providers: Provider[]; initialProvider: string; onAdded: () => void }) {
  const sorted = useMemo(() => [...providers].sort((a, b) => a.title.localeCompare(b.title)), [providers]);
  const [providerName, setProviderName] = useState(() => (providers.some((p) => p.name === initialProvider) ? initialProvider : ""));
  const provider = providers.find((p) => p.name === providerName);
  const types = provider?.credentials_types ?? [];
  const [type, setType] = useState<CredentialType | "">("");
  const [title, setTitle] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [expires, setExpires] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [host, setHost] = useState("");
  const rowKey = useRef(1);
  const [headers, setHeaders] = useState<HeaderRow[]>([{ key: 0, name: "Authorization", value: "" }]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // A provider's first type is chosen with it (API keys before OAuth, when it has both).
  useEffect(() => {
    if (!provider) setType("");
    else if (!type || !provider.credentials_types.includes(type)) {
      const preferred = provider.credentials_types.find((t) => t !== "oauth2") ?? provider.credentials_types[0] ?? "";
      setType(preferred);
    }
  }, [provider]); // eslint-disable-line react-hooks/exhaustive-deps

  const clearSecrets = () => {
    setApiKey("");
    setPassword("");
    setUsername("");
    setHeaders([{ key: rowKey.current++, name: "Authorization", value: "" }]);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!provider || !type) return;
    setError(null);
    if (type === "oauth2") {
      setBusy(true);
      try {
        await startOAuth(provider, "/credentials", title.trim() || undefined);
      } catch (exc) {
        setError(exc);
        setBusy(false);
      }
      return;
    }
    const common = { title: title.trim() || null };
    let body: NewCredential;
    if (type === "api_key") {
      const at = expires ? Math.floor(new Date(`${expires}T23:59:59`).getTime() / 1000) : null;
      body = { ...common, type, api_key: apiKey, expires_at: at && Number.isFinite(at) ? at : null };
    }
    else if (type === "user_password") body = { ...common, type, username, password };
    else {
      const named = headers.filter((h) => h.name.trim());
      body = { ...common, type, host: host.trim(), headers: Object.fromEntries(named.map((h) => [h.name.trim(), h.value])) };
    }
    setBusy(true);
    try {
      const made = await api.createCredential(provider.name, body);
      clearSecrets();
      setTitle("");
      setExpires("");
      setHost("");
      toast(`Saved ${credentialLabel(made)}`);
      onAdded();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  const oauthUnavailable = type === "oauth2" && provider && !provider.oauth_configured;
  const ready =
    !!provider &&
    !!type &&
    !busy &&
    (type === "api_key"
      ? !!apiKey
      : type === "user_password"
        ? !!username && !!password
        : type === "host_scoped"
          ? !!host.trim() && headers.some((h) => h.name.trim() && h.value)
          : !oauthUnavailable);

  return (
    <form className="card" onSubmit={submit} aria-label="Add a credential" autoComplete="off">
      <h2>Add a credential</h2>
      <div className="grid-2">
        <label className="field">
          <span>Provider</span>
          <select name="provider" value={providerName} onChange={(e) => setProviderName(e.target.value)} required>
            <option value="">— choose a provider —</option>
            {sorted.map((p) => (
              <option key={p.name} value={p.name}>
                {p.title}
              </option>
            ))}
          </select>
        </label>
        {types.length > 1 && (
          <label className="field">
            <span>Kind</span>
            <select name="type" value={type} onChange={(e) => setType(e.target.value as CredentialType)}>
              {types.map((t) => (
                <option key={t} value={t}>
                  {TYPE_LABELS[t] ?? t}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {provider && type && (
        <>
          <label className="field">
            <span>Title (optional)</span>
            <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={500} placeholder={`e.g. ${provider.title} ${(TYPE_LABELS[type] ?? "").toLowerCase()}, work`} />
          </label>
          {type === "api_key" && (
            <label className="field">
              <span>API key</span>
              <input name="api_key" type="password" autoComplete="new-password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} maxLength={20000} required />
            </label>
          )}
          {type === "api_key" && (
            <label className="field">
              <span>Expires (optional)</span>
              <input name="expires" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
            </label>
          )}
          {type === "user_password" && (
            <div className="grid-2">
              <label className="field">
                <span>User name</span>
                <input name="username" autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} maxLength={20000} required />
              </label>
              <label className="field">
                <span>Password</span>
                <input name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} maxLength={20000} required />
              </label>
            </div>
          )}
          {type === "host_scoped" && (
            <>
              <label className="field">
                <span>Host</span>
                <input name="host" value={host} onChange={(e) => setHost(e.target.value)} maxLength={500} placeholder="api.example.com" required />
              </label>
              <fieldset className="header-rows">
                <legend>Headers sent only to this host</legend>
                {headers.map((h, i) => (
                  <div key={h.key} className="header-row">
                    <input aria-label={`Header ${i + 1} name`} value={h.name} maxLength={200} placeholder="Header name" onChange={(e) => setHeaders(headers.map((x) => (x.key === h.key ? { ...x, name: e.target.value } : x)))} />
                    <input aria-label={`Header ${i + 1} value`} type="password" autoComplete="new-password" value={h.value} maxLength={20000} placeholder="Value" onChange={(e) => setHeaders(headers.map((x) => (x.key === h.key ? { ...x, value: e.target.value } : x)))} />
                    <button type="button" className="btn btn-small" aria-label={`Remove header ${i + 1}`} disabled={headers.length === 1} onClick={() => setHeaders(headers.filter((x) => x.key !== h.key))}>
                      ✕
                    </button>
                  </div>
                ))}
                <button type="button" className="btn btn-small" onClick={() => setHeaders([...headers, { key: rowKey.current++, name: "", value: "" }])}>
                  Add a header
                </button>
              </fieldset>
            </>
          )}
          {type === "oauth2" && (
            <p className="muted">
              {oauthUnavailable
                ? `Connecting ${provider.title} is unavailable: the operator of this server has not configured its OAuth app.`
                : `You will sign in at ${provider.title} and come back here; autoplat stores the tokens it grants.`}
            </p>
          )}
        </>
      )}
      {error ? <ErrorBox error={error} /> : null}
      <button type="submit" className="btn btn-primary" disabled={!ready}>
        {type === "oauth2" ? (busy ? "Redirecting…" : `Connect ${provider?.title ?? ""}`.trim()) : busy ? "Saving…" : "Save credential"}
      </button>
    </form>
  );
}

// Completions of OAuth logins, by state token: a login is finished once even when the page
// mounts twice (StrictMode, a re-render), and never again after a reload.
const finishing = new Map<string, Promise<CredentialMeta>>();

/** `/auth/integrations/oauth_callback?code=…&state=…`: the provider sent the user back. */
export function OAuthCallback() {
  useDocumentTitle("Connecting…");
  const [params] = useState(() => new URLSearchParams(window.location.search));
  const state = params.get("state") ?? "";
  const code = params.get("code") ?? "";
  const providerError = params.get("error_description") || params.get("error");
  const [pending] = useState<PendingLogin | null>(() => {
    try {
      const raw = state ? sessionStorage.getItem(OAUTH_KEY(state)) : null;
      return raw ? (JSON.parse(raw) as PendingLogin) : null;
    } catch {
      return null;
    }
  });
  const [result, setResult] = useState<{ ok: CredentialMeta } | { error: unknown } | null>(null);

  useEffect(() => {
    // The code is for one use: keep it out of the history and the address bar.
    window.history.replaceState(null, "", window.location.pathname);
  }, []);

  useEffect(() => {
    if (!pending || !code || providerError) return;
    let job = finishing.get(state);
    if (!job) {
      job = api.oauthCallback(pending.provider, { code, state_token: state, title: pending.title ?? null });
      finishing.set(state, job);
      const forget = () => sessionStorage.removeItem(OAUTH_KEY(state));
      job.then(forget, forget);
    }
    let live = true;
    job.then(
      (ok) => live && setResult({ ok }),
      (error) => live && setResult({ error }),
    );
    return () => {
      live = false;
    };
  }, [pending, code, state, providerError]);

  // Only a path of this app (never another origin) to go back to.
  const back = pending?.returnTo && /^\/(?!\/)/.test(pending.returnTo) ? pending.returnTo : "/credentials";
  let body;
  if (providerError) body = <ErrorBox error={new Error(`The provider did not grant access: ${providerError}`)} />;
  else if (!code || !state) body = <ErrorBox error={new Error("This address lacks the code and state an OAuth provider sends back.")} />;
  else if (!pending && !result)
    body = <ErrorBox error={new Error("This login was not started in this browser tab, or it is finished already. Start it again from the credentials page.")} />;
  else if (!result) body = <Spinner label={`Finishing the connection to ${pending?.provider ?? "the provider"}…`} />;
  else if ("error" in result) body = <ErrorBox error={result.error} />;
  else
    body = (
      <div className="card secret" role="status">
        <h2>Connected</h2>
        <p>
          {credentialLabel(result.ok)} ({result.ok.provider}) is saved with your credentials
          {result.ok.scopes?.length ? `, with the scopes ${result.ok.scopes.join(", ")}` : ""}.
        </p>
      </div>
    );
  return (
    <div>
      <h1>OAuth connection</h1>
      {body}
      <p>
        <Link to={back} className="btn">
          Back to credentials
        </Link>
      </p>
    </div>
  );
}
