import { useState, type FormEvent } from "react";
import { useAuth } from "../auth";
import { errorText } from "../ui";

export function SignIn({ reason }: { reason?: string }) {
  const { signIn } = useAuth();
  const [kind, setKind] = useState<"apiKey" | "bearer">("apiKey");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn({ kind, value: value.trim() });
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <form className="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to autoplat</h1>
        <p className="muted">
          This server needs credentials. Paste an API key (made with <code>autoplat apikey create</code>) or a bearer
          token. It is kept in this browser tab only, until you close it or sign out.
        </p>
        {reason && <p className="state state-error">{reason}</p>}
        <fieldset className="radio-row">
          <legend>Credential</legend>
          <label>
            <input type="radio" name="kind" checked={kind === "apiKey"} onChange={() => setKind("apiKey")} /> API key
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === "bearer"} onChange={() => setKind("bearer")} /> Bearer token
            (JWT)
          </label>
        </fieldset>
        <label className="field">
          <span>{kind === "apiKey" ? "API key" : "Token"}</span>
          <input
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
            autoFocus
            name="credential"
          />
        </label>
        {error && (
          <p className="state state-error" role="alert">
            {error}
          </p>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy || !value.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
