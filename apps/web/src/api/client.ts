// Typed fetch client for /api. Every failure becomes an ApiError carrying the
// server's {error:{code,message}}; a 401 also tells the app to sign out.
import type {
  AuditEntry,
  Availability,
  CheckpointInfo,
  CheckpointSettings,
  CreateVmRequest,
  EpochEvent,
  FaultRequest,
  HostDomain,
  HostInfo,
  Injection,
  Role,
  RollbackResult,
  RollbackTarget,
  StoredEvent,
  TakenCheckpoint,
  TelemetryEvent,
  VmView,
  Workload,
} from './types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | undefined | null>;

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface ApiClientOptions {
  base?: string;
  onUnauthorized?: () => void;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

export class ApiClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly token: string,
    private readonly options: ApiClientOptions = {},
  ) {
    this.base = options.base ?? '';
    this.fetchImpl = options.fetchImpl ?? ((...a) => fetch(...a));
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000) };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.base}${path}${queryString(query)}`, init);
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      throw new ApiError(0, timedOut ? 'timeout' : 'network', timedOut ? 'The server did not answer in time' : 'The server cannot be reached');
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: reported below */
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (res.status === 401) this.options.onUnauthorized?.();
      throw new ApiError(res.status, e?.code ?? `http-${res.status}`, e?.message ?? (res.statusText || `HTTP ${res.status}`));
    }
    return json as T;
  }

  session() {
    return this.request<{ role: Role; faultInjection: boolean }>('GET', '/api/session');
  }
  host() {
    return this.request<HostInfo>('GET', '/api/host');
  }
  hostDomains() {
    return this.request<{ domains: HostDomain[] }>('GET', '/api/host/domains');
  }
  workloads() {
    return this.request<{ workloads: Workload[] }>('GET', '/api/workloads');
  }
  vms() {
    return this.request<{ vms: VmView[] }>('GET', '/api/vms');
  }
  vm(id: string) {
    return this.request<VmView>('GET', `/api/vms/${encodeURIComponent(id)}`);
  }
  createVm(body: CreateVmRequest) {
    return this.request<VmView>('POST', '/api/vms', body);
  }
  deleteVm(id: string) {
    return this.request<void>('DELETE', `/api/vms/${encodeURIComponent(id)}`);
  }
  configure(id: string, patch: Partial<CheckpointSettings>) {
    return this.request<{ settings: CheckpointSettings }>('PATCH', `/api/vms/${encodeURIComponent(id)}/config`, patch);
  }
  checkpoints(id: string) {
    return this.request<{ checkpoints: CheckpointInfo[] }>('GET', `/api/vms/${encodeURIComponent(id)}/checkpoints`);
  }
  takeCheckpoint(id: string) {
    return this.request<TakenCheckpoint>('POST', `/api/vms/${encodeURIComponent(id)}/checkpoints`, {});
  }
  rollback(id: string, to: RollbackTarget) {
    return this.request<RollbackResult>('POST', `/api/vms/${encodeURIComponent(id)}/rollback`, { to });
  }
  events(id: string, q: { limit?: number | undefined; before?: number | undefined; types?: TelemetryEvent['type'][] | undefined } = {}) {
    return this.request<{ events: StoredEvent[] }>('GET', `/api/vms/${encodeURIComponent(id)}/events`, undefined, {
      limit: q.limit,
      before: q.before,
      types: q.types?.join(','),
    });
  }
  recentEpochs(id: string) {
    return this.request<{ epochs: EpochEvent[] }>('GET', `/api/vms/${encodeURIComponent(id)}/epochs`);
  }
  console(id: string, lines = 200) {
    return this.request<{ lines: string[] }>('GET', `/api/vms/${encodeURIComponent(id)}/console`, undefined, { lines });
  }
  audit(q: { vmId?: string | undefined; action?: string | undefined; limit?: number | undefined; before?: number | undefined } = {}) {
    return this.request<{ entries: AuditEntry[] }>('GET', '/api/audit', undefined, q);
  }
  availability(vmId: string, overheadBudgetPct?: number) {
    return this.request<Availability>('GET', '/api/model/availability', undefined, { vmId, overheadBudgetPct });
  }
  injectFault(id: string, fault: FaultRequest) {
    return this.request<Injection>('POST', `/api/vms/${encodeURIComponent(id)}/faults`, fault);
  }
  faults(id: string) {
    return this.request<{ injections: Injection[] }>('GET', `/api/vms/${encodeURIComponent(id)}/faults`);
  }
}

/** Validates a token: resolves to its role, or throws ApiError (401 for a wrong one). */
export async function signIn(token: string, options: ApiClientOptions = {}): Promise<Role> {
  const { role } = await new ApiClient(token, options).session();
  return role;
}
