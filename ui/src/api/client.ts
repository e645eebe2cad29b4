// The one HTTP client of the app: credentials from the session, errors in the API's envelope.
import type { components } from "./schema.gen";

export type S = components["schemas"];

/** One problem of a 422: graph validation names node_id/pin, body validation a field. */
export interface ErrorDetail {
  node_id?: string | null;
  block_id?: string | null;
  pin?: string | null;
  field?: string;
  message?: string;
  link_id?: string;
  graph_id?: string | null;
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

export type Credential = { kind: "apiKey" | "bearer"; value: string } | null;
const STORAGE_KEY = "autoplat.credential";

/** The credential of this browser tab: sessionStorage only, never the URL or localStorage. */
export function getCredential(): Credential {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Credential) : null;
  } catch {
    return null;
  }
}

export function setCredential(credential: Credential): void {
  if (credential) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential));
  else sessionStorage.removeItem(STORAGE_KEY);
}

export function authHeaders(): Record<string, string> {
  const c = getCredential();
  if (!c) return {};
  return c.kind === "apiKey" ? { "X-API-Key": c.value } : { Authorization: `Bearer ${c.value}` };
}

let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request<T>(
  method: string,
  path: string,
  options: { body?: unknown; query?: Query; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders(), ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), { method, headers, body, signal: options.signal });
  } catch (exc) {
    if ((exc as Error).name === "AbortError") throw exc;
    throw new ApiError(0, "network_error", "The server cannot be reached. Is autoplat running?");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | undefined)?.error;
    const apiError = new ApiError(
      response.status,
      err?.code ?? `http_${response.status}`,
      err?.message ?? `${response.status} ${response.statusText}`,
      Array.isArray(err?.details) ? err.details : [],
    );
    if (response.status === 401 && onUnauthorized) onUnauthorized();
    throw apiError;
  }
  return data as T;
}

export const http = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, { query, signal }),
  post: <T>(path: string, body?: unknown, query?: Query) => request<T>("POST", path, { body, query }),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, { body }),
  del: <T>(path: string) => request<T>("DELETE", path),
};

/** Every page of a paginated list (the API caps page_size at 250). */
export async function getAll<T>(path: string, query: Query = {}, limit = 5000): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; ; page++) {
    const res = await http.get<{ items: T[]; pagination: S["Pagination"] }>(path, { ...query, page, page_size: 250 });
    items.push(...res.items);
    if (page >= res.pagination.total_pages || items.length >= limit) return items;
  }
}

export const enc = encodeURIComponent;
