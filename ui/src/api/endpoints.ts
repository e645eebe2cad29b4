// Named calls of the routes the app uses; shapes are the generated OpenAPI types.
import { enc, getAll, http, type S } from "./client";

export type Graph = S["GraphOut"];
export type GraphNode = S["NodeOut"];
export type GraphLink = S["LinkOut"];
export type Block = S["BlockOut"];
export type Run = S["RunOut"];
export type RunDetail = S["RunDetail"];
export type NodeExecution = S["NodeExecutionOut"];
export type LibraryAgent = S["LibraryAgentOut"];
export type Schedule = S["ScheduleView"];
export type Fire = S["FireView"];
export type ApiKey = S["ApiKeyOut"];
export type Permission = S["Permission"];
export type User = S["UserOut"];
export type Transaction = S["TransactionOut"];
export type SystemJob = S["SystemJobView"];
export type CredentialMeta = S["CredentialsMeta"];
export type Provider = S["ProviderOut"];
export type CredentialType = S["CredentialsType"];
export type NewCredential = S["CreateCredentialsIn"];
export type Review = S["ReviewOut"];
export type ReviewDecision = S["ReviewItem"];
/** What a run's credentials input holds: a reference, never a secret. */
export type CredentialRef = { id: string; provider: string; type: CredentialType; title?: string | null };

export const api = {
  me: () => http.post<S["UserOut"]>("/api/auth/user"),
  timezone: () => http.get<S["TimezoneOut"]>("/api/auth/user/timezone"),
  blocks: () => getAll<Block>("/api/blocks"),

  library: (includeArchived: boolean) => getAll<LibraryAgent>("/api/library/agents", { include_archived: includeArchived }),
  setArchived: (id: string, archived: boolean) =>
    http.patch<LibraryAgent>(`/api/library/agents/${enc(id)}`, { is_archived: archived }),

  graph: (id: string, version?: number) => http.get<Graph>(`/api/graphs/${enc(id)}`, { version }),
  exportGraph: (id: string) => http.get<Record<string, unknown>>(`/api/graphs/${enc(id)}`, { for_export: true }),
  createGraph: (graph: unknown, source = "builder") => http.post<Graph>("/api/graphs", { graph, source }),
  importGraph: (document: unknown) => http.post<Graph>("/api/graphs", document),
  updateGraph: (id: string, graph: unknown) => http.put<Graph>(`/api/graphs/${enc(id)}`, { graph, source: "builder" }),
  versions: (id: string) => http.get<S["GraphOutPage"]>(`/api/graphs/${enc(id)}/versions`, { page_size: 50 }),

  execute: (id: string, version: number, inputs: Record<string, unknown>, credentials_inputs: Record<string, CredentialRef> = {}) =>
    http.post<S["RunQueued"]>(`/api/graphs/${enc(id)}/execute/${version}`, { inputs, credentials_inputs } as S["ExecuteBody"]),
  runs: (page: number, pageSize = 50) => http.get<S["RunOutPage"]>("/api/executions", { page, page_size: pageSize }),
  graphRuns: (id: string, page: number, pageSize = 50) =>
    http.get<S["RunOutPage"]>(`/api/graphs/${enc(id)}/executions`, { page, page_size: pageSize }),
  run: (graphId: string, execId: string) => http.get<RunDetail>(`/api/graphs/${enc(graphId)}/executions/${enc(execId)}`),
  stop: (graphId: string, execId: string) => http.post<Run>(`/api/graphs/${enc(graphId)}/executions/${enc(execId)}/stop`),
  deleteRun: (execId: string) => http.del<void>(`/api/executions/${enc(execId)}`),

  schedules: () => getAll<Schedule>("/api/schedules"),
  createSchedule: (graphId: string, body: S["CreateSchedule"]) =>
    http.post<Schedule>(`/api/graphs/${enc(graphId)}/schedules`, body),
  createPreset: (body: S["CreatePreset"]) => http.post<S["PresetOut"]>("/api/library/presets", body),
  deletePreset: (id: string) => http.del<unknown>(`/api/library/presets/${enc(id)}`),
  fires: (id: string) => http.get<S["FireViewPage"]>(`/api/schedules/${enc(id)}/fires`, { page_size: 20 }),
  pauseSchedule: (id: string) => http.post<Schedule>(`/api/schedules/${enc(id)}/pause`),
  resumeSchedule: (id: string) => http.post<Schedule>(`/api/schedules/${enc(id)}/resume`),
  deleteSchedule: (id: string) => http.del<S["DeletedSchedule"]>(`/api/schedules/${enc(id)}`),

  apiKeys: () => getAll<ApiKey>("/api/api-keys"),
  createApiKey: (body: S["CreateApiKeyIn"]) => http.post<S["CreateApiKeyOut"]>("/api/api-keys", body),
  revokeApiKey: (id: string) => http.del<ApiKey>(`/api/api-keys/${enc(id)}`),
  suspendApiKey: (id: string) => http.post<ApiKey>(`/api/api-keys/${enc(id)}/suspend`),

  credentials: () => getAll<CredentialMeta>("/api/integrations/credentials"),
  providers: () => getAll<Provider>("/api/integrations/providers"),
  createCredential: (provider: string, body: NewCredential) =>
    http.post<CredentialMeta>(`/api/integrations/${enc(provider)}/credentials`, body),
  deleteCredential: (provider: string, id: string) =>
    http.del<S["DeletedOut"]>(`/api/integrations/${enc(provider)}/credentials/${enc(id)}`),
  oauthLogin: (provider: string, scopes: string[] = []) =>
    http.get<S["LoginOut"]>(`/api/integrations/${enc(provider)}/login`, { scopes: scopes.join(",") || undefined }),
  oauthCallback: (provider: string, body: S["CallbackIn"]) =>
    http.post<CredentialMeta>(`/api/integrations/${enc(provider)}/callback`, body),

  pendingReviews: () => getAll<Review>("/api/review/pending"),
  pendingCount: () => http.get<S["ReviewOutPage"]>("/api/review/pending", { page_size: 1 }).then((p) => p.pagination.total_items),
  runReviews: (execId: string) => http.get<S["ReviewsOut"]>(`/api/review/execution/${enc(execId)}`),
  decideReviews: (reviews: ReviewDecision[]) => http.post<S["ReviewActionOut"]>("/api/review/action", { reviews } satisfies S["ReviewAction"]),

  credits: () => http.get<S["CreditsOut"]>("/api/credits"),
  transactions: (page: number) => http.get<S["TransactionOutPage"]>("/api/credits/transactions", { page, page_size: 50 }),

  users: (page: number) => http.get<S["UserOutPage"]>("/api/admin/users", { page, page_size: 50 }),
  jobs: () => getAll<SystemJob>("/api/admin/jobs"),
  runJob: (name: string) => http.post<SystemJob>(`/api/admin/jobs/${enc(name)}/run`),
  grant: (body: S["GrantBody"]) => http.post<S["PostingOut"]>("/api/admin/credits/grant", body),
};
