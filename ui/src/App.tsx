import { Component, lazy, Suspense, type ReactNode } from "react";
import { AuthProvider, useAuth, useUser } from "./auth";
import { builderKey, Link, match, navigate, useLocation } from "./router";
import { ErrorBox, Spinner, Toasts } from "./ui";
import { SignIn } from "./pages/SignIn";
import { Library } from "./pages/Library";
import { RunDetailPage, Runs } from "./pages/Runs";
import { Schedules } from "./pages/Schedules";
import { ApiKeys } from "./pages/ApiKeys";
import { Credits } from "./pages/Credits";
import { Admin } from "./pages/Admin";
import { Credentials, OAuthCallback } from "./pages/Credentials";
import { Reviews } from "./pages/Reviews";
import { api } from "./api/endpoints";
import { useAsync } from "./ui";

// The builder (and @xyflow/react) loads only when a graph is opened.
const Builder = lazy(() => import("./builder/Builder"));

class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }
  render() {
    if (this.state.error) return <ErrorBox error={this.state.error} retry={() => this.setState({ error: null })} />;
    return this.props.children;
  }
}

const NAV = [
  { to: "/library", label: "Library" },
  { to: "/runs", label: "Runs" },
  { to: "/reviews", label: "Reviews" },
  { to: "/schedules", label: "Schedules" },
  { to: "/credentials", label: "Credentials" },
  { to: "/keys", label: "API keys" },
  { to: "/credits", label: "Credits" },
];

function Shell() {
  const { path } = useLocation();
  const { user, localMode } = useUser();
  const { signOut } = useAuth();
  const nav = user.role === "admin" ? [...NAV, { to: "/admin", label: "Admin" }] : NAV;
  const full = path.startsWith("/build/");
  // How many reviews wait, refreshed on each page change (a missing permission shows none).
  const waiting = useAsync(() => api.pendingCount().catch(() => 0), [path]);
  return (
    <div className={full ? "shell shell-full" : "shell"}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/library" className="brand" aria-label="autoplat home">
          <img src="/favicon.svg" alt="" width={22} height={22} /> autoplat
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={path.startsWith(n.to) ? "page" : undefined}>
                  {n.label}
                  {n.to === "/reviews" && !!waiting.data && (
                    <span className="nav-count" aria-label={`${waiting.data} waiting`}>
                      {waiting.data}
                    </span>
                  )}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-user">
          <span className="muted" title={user.id}>
            {localMode ? "local mode" : user.email || user.name || user.id}
          </span>
          {!localMode && (
            <button type="button" className="btn btn-small" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <ErrorBoundary resetKey={path}>
        <Routes path={path} />
      </ErrorBoundary>
      <Toasts />
    </div>
  );
}

function Routes({ path }: { path: string }) {
  if (path === "/" || path === "") {
    navigate("/library", true);
    return null;
  }
  let m: Record<string, string> | null;
  if ((m = match("/build/:graphId", path))) {
    return (
      <Suspense fallback={<Spinner label="Loading the builder…" />}>
        <Builder key={builderKey(m.graphId)} graphId={m.graphId === "new" ? null : m.graphId} />
      </Suspense>
    );
  }
  let page: ReactNode;
  if (path === "/library") page = <Library />;
  else if (path === "/runs") page = <Runs />;
  else if ((m = match("/runs/:graphId/:execId", path))) page = <RunDetailPage graphId={m.graphId} execId={m.execId} />;
  else if (path === "/schedules") page = <Schedules />;
  else if (path === "/keys") page = <ApiKeys />;
  else if (path === "/credits") page = <Credits />;
  else if (path === "/admin") page = <Admin />;
  else if (path === "/credentials") page = <Credentials />;
  else if (path === "/reviews") page = <Reviews />;
  else if (path === "/auth/integrations/oauth_callback") page = <OAuthCallback />;
  else
    page = (
      <div className="state state-empty">
        <h1>Page not found</h1>
        <p>
          Nothing lives at <code>{path}</code>. <Link to="/library">Go to the library</Link>.
        </p>
      </div>
    );
  return (
    <main id="main" className="page" tabIndex={-1}>
      {page}
    </main>
  );
}

function Gate() {
  const { session, retry } = useAuth();
  if (session.state === "loading") return <Spinner label="Connecting to autoplat…" />;
  if (session.state === "error")
    return (
      <main className="page" id="main">
        <ErrorBox error={session.error} retry={retry} />
      </main>
    );
  if (session.state === "signed-out") return <SignIn reason={session.reason} />;
  return <Shell />;
}

export function App() {
  return (
    <AuthProvider>
      <Gate />
    </AuthProvider>
  );
}
