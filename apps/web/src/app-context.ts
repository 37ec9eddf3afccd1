import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client.ts';
import type { HostInfo, Role } from './api/types.ts';
import type { TelemetryStore } from './telemetry/store.ts';

export interface Session {
  api: ApiClient;
  store: TelemetryStore;
  role: Role;
  /** Whether this server accepts fault injections (started with --allow-fault-injection). */
  faultInjection: boolean;
  /** What the server's host is (GET /api/host); null until known. */
  host: HostInfo | null;
  /** Refetches the VM list into the store. */
  refreshVms: () => Promise<void>;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}

export const canMutate = (role: Role) => role === 'operator';
