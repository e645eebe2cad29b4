// Live run events over /ws (AutoGPT's protocol), with a REST polling fallback.
//
// The browser cannot put an X-API-Key header on a WebSocket, so a tab signed in with an API
// key follows runs by polling; local mode and bearer tokens use /ws (token as ?token=, as
// the server documents; it never appears in the page's own URL).
import { getCredential } from "./api/client";
import { api, type NodeExecution, type Run } from "./api/endpoints";

export interface RunWatcher {
  close: () => void;
}

export interface RunCallbacks {
  onRun: (run: Run) => void;
  onNode: (node: NodeExecution) => void;
  /** Events were lost (a `lagged` notice); the full state is reloaded. */
  onLagged?: () => void;
  onTransport?: (mode: "ws" | "poll" | "closed") => void;
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "TERMINATED"]);
export const isTerminal = (status: string | undefined | null) => !!status && TERMINAL.has(status);

export function watchRun(graphId: string, execId: string, cb: RunCallbacks): RunWatcher {
  let closed = false;
  let ws: WebSocket | null = null;
  let pollTimer: ReturnType<typeof setTimeout> | null = null;
  let heartbeat: ReturnType<typeof setInterval> | null = null;

  const refresh = async () => {
    const detail = await api.run(graphId, execId);
    if (closed) return detail;
    for (const n of detail.node_executions) cb.onNode(n);
    cb.onRun(detail);
    return detail;
  };

  const poll = async () => {
    if (closed) return;
    try {
      const detail = await refresh();
      if (isTerminal(detail.status)) return;
    } catch {
      /* keep polling: the server may be restarting */
    }
    pollTimer = setTimeout(poll, 700);
  };

  const startPolling = () => {
    cb.onTransport?.("poll");
    void poll();
  };

  const credential = getCredential();
  if (credential?.kind === "apiKey" || typeof WebSocket === "undefined") {
    startPolling();
  } else {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const query = credential?.kind === "bearer" ? `?token=${encodeURIComponent(credential.value)}` : "";
    ws = new WebSocket(`${proto}//${location.host}/ws${query}`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      cb.onTransport?.("ws");
      ws?.send(JSON.stringify({ method: "subscribe_graph_execution", data: { graph_exec_id: execId } }));
      heartbeat = setInterval(() => ws?.send(JSON.stringify({ method: "heartbeat", data: "ping" })), 25000);
    };
    ws.onmessage = (ev) => {
      let msg: { method?: string; data?: unknown; success?: boolean };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.method === "subscribe_graph_execution" && msg.success) {
        // Anything that happened before the subscription: read it once.
        void refresh().catch(() => undefined);
      } else if (msg.method === "graph_execution_event") {
        const run = msg.data as Run;
        if (run.id === execId) cb.onRun(run);
      } else if (msg.method === "node_execution_event") {
        const node = msg.data as NodeExecution;
        if (node.graph_exec_id === execId) cb.onNode(node);
      } else if (msg.method === "lagged") {
        // The server sends the run's current state next; node states are reloaded.
        cb.onLagged?.();
        void refresh().catch(() => undefined);
      }
    };
    ws.onclose = () => {
      if (heartbeat) clearInterval(heartbeat);
      if (closed) return;
      // Refused or dropped: fall back to polling so that the page still follows the run.
      if (!opened) startPolling();
      else refresh().then((d) => !isTerminal(d.status) && startPolling(), startPolling);
    };
  }

  return {
    close: () => {
      closed = true;
      if (pollTimer) clearTimeout(pollTimer);
      if (heartbeat) clearInterval(heartbeat);
      if (ws && ws.readyState <= 1) ws.close();
      cb.onTransport?.("closed");
    },
  };
}
