import { useEffect, useState } from 'react';
import { useSession } from '../app-context.ts';
import { useStoreVersion } from '../telemetry/hooks.ts';

/** connecting / live / disconnected, with the reconnect countdown. */
export function ConnectionBadge() {
  const { store } = useSession();
  useStoreVersion(store);
  const c = store.connection;
  const [, tick] = useState(0);
  useEffect(() => {
    if (c.status !== 'disconnected') return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [c.status]);
  const label =
    c.status === 'live'
      ? 'Live'
      : c.status === 'connecting'
        ? c.attempt > 0
          ? `Reconnecting (attempt ${c.attempt + 1})…`
          : 'Connecting…'
        : `Disconnected, retrying in ${Math.max(0, Math.ceil(((c.retryAt ?? Date.now()) - Date.now()) / 1000))} s`;
  // Events the server coalesced because this page fell behind: shown, never hidden.
  const missed = store.missed;
  return (
    <span className={`conn conn-${c.status}`} role="status" aria-live="polite" data-testid="connection" data-status={c.status}>
      <span className="conn-dot" aria-hidden="true" />
      {label}
      {missed > 0 && <span className="muted" title="Telemetry events the server coalesced because this page fell behind">{` · ${missed} coalesced`}</span>}
    </span>
  );
}
