import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api/client.ts';
import type { HostInfo, Role } from './api/types.ts';
import { type Session, SessionContext } from './app-context.ts';
import { ConnectionBadge } from './components/ConnectionBadge.tsx';
import { HostBadge, HostBanner } from './components/Host.tsx';
import { AuditPage } from './pages/AuditPage.tsx';
import { CreateVmPage } from './pages/CreateVmPage.tsx';
import { DomainsPage } from './pages/DomainsPage.tsx';
import { SignInPage } from './pages/SignInPage.tsx';
import { VmListPage } from './pages/VmListPage.tsx';
import { href, useRoute } from './route.ts';
import { TelemetrySocket, telemetryUrl } from './telemetry/socket.ts';
import { TelemetryStore } from './telemetry/store.ts';

// The VM page draws charts: it comes with the charts library, loaded when
// first opened, so that signing in and the VM list load without it.
const VmDetailPage = lazy(async () => ({ default: (await import('./pages/VmDetailPage.tsx')).VmDetailPage }));

const TOKEN_KEY = 'uckpt.token';
const ROLE_KEY = 'uckpt.role';
const VM_POLL_MS = 5000;

interface Credentials {
  token: string;
  role: Role;
}

function loadCredentials(): Credentials | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const role = sessionStorage.getItem(ROLE_KEY);
  return token && (role === 'operator' || role === 'viewer') ? { token, role } : null;
}

export function App() {
  const [creds, setCreds] = useState<Credentials | null>(loadCredentials);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback((why?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
    setNotice(why ?? null);
    setCreds(null);
  }, []);

  if (!creds)
    return (
      <SignInPage
        notice={notice}
        onSignedIn={(token, role) => {
          sessionStorage.setItem(TOKEN_KEY, token);
          sessionStorage.setItem(ROLE_KEY, role);
          setNotice(null);
          setCreds({ token, role });
        }}
      />
    );
  return <SignedIn key={creds.token} creds={creds} signOut={signOut} />;
}

function SignedIn({ creds, signOut }: { creds: Credentials; signOut: (why?: string) => void }) {
  const route = useRoute();
  const api = useMemo(
    () => new ApiClient(creds.token, { onUnauthorized: () => signOut('The server no longer accepts this token. Sign in again.') }),
    [creds.token, signOut],
  );
  const store = useMemo(() => new TelemetryStore(), []);
  const [faultInjection, setFaultInjection] = useState(false);
  const [host, setHost] = useState<HostInfo | null>(null);

  useEffect(() => {
    api.session().then(
      (session) => setFaultInjection(session.faultInjection),
      () => {
        /* a 401 signs out; otherwise the panel stays hidden */
      },
    );
    api.host().then(setHost, () => {
      /* the header shows no host until the server answers */
    });
  }, [api]);

  const refreshVms = useCallback(async () => {
    const { vms } = await api.vms();
    store.setVms(vms);
    store.publish();
  }, [api, store]);

  useEffect(() => {
    let refreshing = false;
    const refresh = () => {
      if (refreshing) return;
      refreshing = true;
      refreshVms()
        .catch(() => {
          /* the connection badge says the server is unreachable */
        })
        .finally(() => (refreshing = false));
    };
    store.onUnknownVm = refresh;
    const socket = new TelemetrySocket({
      url: telemetryUrl(window.location),
      token: creds.token,
      onFrame: (f) => store.ingestFrame(f),
      onState: (s) => store.setConnection(s),
      onOpen: refresh,
      onFailure: () => {
        // A refused handshake looks like any other close: ask the API whether the token still works.
        // A 401 signs out through onUnauthorized; anything else means the server is away.
        api.session().catch(() => {});
      },
    });
    socket.start();
    refresh();
    const poll = setInterval(refresh, VM_POLL_MS);
    return () => {
      clearInterval(poll);
      socket.stop();
      store.onUnknownVm = null;
    };
  }, [api, store, creds.token, refreshVms]);

  const session: Session = useMemo(
    () => ({ api, store, role: creds.role, faultInjection, host, refreshVms, signOut: () => signOut() }),
    [api, store, creds.role, faultInjection, host, refreshVms, signOut],
  );

  return (
    <SessionContext.Provider value={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={href.list}>
          μCheckpoint
        </a>
        <nav aria-label="Main">
          <a href={href.list} aria-current={route.page === 'list' ? 'page' : undefined}>
            VMs
          </a>
          {creds.role === 'operator' && (
            <a href={href.create} aria-current={route.page === 'new' ? 'page' : undefined}>
              New VM
            </a>
          )}
          {host?.hypervisor === 'xen' && (
            <a href={href.domains} aria-current={route.page === 'domains' ? 'page' : undefined}>
              Domains
            </a>
          )}
          <a href={href.audit} aria-current={route.page === 'audit' ? 'page' : undefined}>
            Audit log
          </a>
        </nav>
        <div className="topbar-right">
          <HostBadge host={host} />
          <ConnectionBadge />
          <span className={`role role-${creds.role}`} data-testid="role">
            {creds.role}
          </span>
          <button type="button" className="btn-ghost" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <HostBanner host={host} />
        {route.page === 'list' && <VmListPage />}
        {route.page === 'vm' && (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <VmDetailPage key={route.id} id={route.id} />
          </Suspense>
        )}
        {route.page === 'new' && <CreateVmPage />}
        {route.page === 'audit' && <AuditPage />}
        {route.page === 'domains' && <DomainsPage />}
      </main>
    </SessionContext.Provider>
  );
}
