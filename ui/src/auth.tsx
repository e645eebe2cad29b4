// Who is signed in. Local mode: the server acts as the local user without credentials.
// Multi-user mode: an API key or a bearer token kept in sessionStorage (never in the URL).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { ApiError, getCredential, setCredential, setUnauthorizedHandler, type Credential } from "./api/client";
import { api, type User } from "./api/endpoints";

type Session =
  | { state: "loading" }
  | { state: "error"; error: unknown }
  | { state: "signed-out"; reason?: string }
  | { state: "signed-in"; user: User; credential: Credential };

interface AuthValue {
  session: Session;
  signIn: (credential: NonNullable<Credential>) => Promise<void>;
  signOut: () => void;
  retry: () => void;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session>({ state: "loading" });

  const check = useCallback(async () => {
    setSession({ state: "loading" });
    try {
      const user = await api.me();
      setSession({ state: "signed-in", user, credential: getCredential() });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403) && error.code !== "forbidden_host") {
        const had = getCredential() !== null;
        setCredential(null);
        setSession({ state: "signed-out", reason: had ? error.message : undefined });
      } else setSession({ state: "error", error });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (getCredential() !== null) {
        setCredential(null);
        setSession({ state: "signed-out", reason: "Your credential was refused; sign in again." });
      }
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const signIn = useCallback(async (credential: NonNullable<Credential>) => {
    setCredential(credential);
    try {
      const user = await api.me();
      setSession({ state: "signed-in", user, credential });
    } catch (error) {
      setCredential(null);
      throw error;
    }
  }, []);

  const signOut = useCallback(() => {
    setCredential(null);
    void check();
  }, [check]);

  return <AuthContext.Provider value={{ session, signIn, signOut, retry: check }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

/** The signed-in user (only under a signed-in session). */
export function useUser(): { user: User; localMode: boolean; credential: Credential } {
  const { session } = useAuth();
  if (session.state !== "signed-in") throw new Error("not signed in");
  return { user: session.user, localMode: session.credential === null, credential: session.credential };
}
