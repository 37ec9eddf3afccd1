// Fault injection, for testing detectors and recovery: the form, what the
// server says it did, and each injection's outcome as the agent tracks it
// (the server's list first, then the live 'fault' events).
import { type FormEvent, memo, useEffect, useId, useMemo, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { FaultKind, FaultRequest, Injection, MemoryRegion } from '../api/types.ts';
import { useSession } from '../app-context.ts';
import { fmtTime } from '../format.ts';
import { useStoreVersion } from '../telemetry/hooks.ts';

const kinds: { kind: FaultKind; label: string; help: string }[] = [
  { kind: 'bit-flip', label: 'Memory bit flip', help: 'flips bits in a guest page' },
  { kind: 'register', label: 'Register corruption', help: 'corrupts a vCPU register' },
  { kind: 'hang', label: 'Hang', help: 'stops the guest making progress' },
  { kind: 'crash', label: 'Crash', help: 'makes the guest fault' },
  { kind: 'checkpoint-page', label: 'Corrupt a checkpoint', help: 'flips a bit in a stored page of the newest checkpoint' },
];

const takesBits = (kind: FaultKind) => kind === 'bit-flip' || kind === 'register';

function outcome(i: Injection): string {
  if (i.status === 'pending') return 'not detected yet';
  if (i.status === 'undetected') return 'not detected before the run ended';
  const d = i.detection!;
  const found = `detected by ${d.detector} after ${Math.round(d.latencyMs)} ms`;
  if (!i.recovery) return `${found}; recovering`;
  if (i.recovery.outcome === 'alert-only') return `${found}; alert only (automatic recovery off)`;
  const rollbacks = `${i.recovery.rollbacks} rollback${i.recovery.rollbacks === 1 ? '' : 's'}`;
  return `${found}; ${i.recovery.outcome === 'recovered' ? 'recovered' : 'not recovered'} (${rollbacks}${i.recovery.seq !== undefined ? `, to #${i.recovery.seq}` : ''})`;
}

export function FaultPanel({ vmId }: { vmId: string }) {
  const { api } = useSession();
  const id = useId();
  const [kind, setKind] = useState<FaultKind>('bit-flip');
  const [region, setRegion] = useState<MemoryRegion>('data');
  const [bits, setBits] = useState('1');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ kind: 'ok' | 'error' | 'unavailable'; text: string } | null>(null);
  const bitsErr = takesBits(kind) && !/^[1-9]\d*$/.test(bits) ? 'Enter a whole number of bits (1 or more).' : takesBits(kind) && Number(bits) > 64 ? 'At most 64 bits.' : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (bitsErr) return;
    setBusy(true);
    setAnswer(null);
    const req: FaultRequest = { kind, ...(kind === 'bit-flip' ? { region } : {}), ...(takesBits(kind) ? { bits: Number(bits) } : {}) };
    try {
      const injection = await api.injectFault(vmId, req);
      setAnswer({ kind: 'ok', text: `Injected ${injection.id}: ${injection.effect.description}. Watch the events for the alert.` });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /^no route/.test(err.message))
        setAnswer({ kind: 'unavailable', text: 'Fault injection is not available on this server (yet).' });
      else setAnswer({ kind: 'error', text: err instanceof ApiError ? `Refused: ${err.message}` : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="fault-panel" data-testid="fault-panel">
      <form onSubmit={submit} noValidate>
        <p className="banner banner-warn" role="note">
          <strong>For testing.</strong> These inject real faults into the guest to exercise error detection and recovery.
        </p>
        <fieldset>
          <legend>Fault</legend>
          {kinds.map((k) => (
            <div key={k.kind} className="field-check">
              <input id={`${id}-${k.kind}`} type="radio" name="kind" value={k.kind} checked={kind === k.kind} onChange={() => setKind(k.kind)} />
              <label htmlFor={`${id}-${k.kind}`}>
                {k.label} <span className="muted">({k.help})</span>
              </label>
            </div>
          ))}
        </fieldset>
        {kind === 'bit-flip' && (
          <div className="field">
            <label htmlFor={`${id}-region`}>Region</label>
            <select id={`${id}-region`} value={region} onChange={(e) => setRegion(e.target.value as MemoryRegion)}>
              <option value="data">data (the workload's memory)</option>
              <option value="code">code</option>
              <option value="stack">stack</option>
            </select>
          </div>
        )}
        {takesBits(kind) && (
          <div className="field">
            <label htmlFor={`${id}-bits`}>Bits to flip</label>
            <input id={`${id}-bits`} inputMode="numeric" value={bits} onChange={(e) => setBits(e.target.value)} aria-invalid={bitsErr ? true : undefined} aria-describedby={`${id}-bits-h`} />
            <span id={`${id}-bits-h`} className={bitsErr ? 'field-error' : 'hint'}>
              {bitsErr ?? (kind === 'bit-flip' ? 'in one randomly chosen page of the region' : 'of one randomly chosen register')}
            </span>
          </div>
        )}
        <button type="submit" className="btn-danger" disabled={busy || !!bitsErr}>
          {busy ? 'Injecting…' : 'Inject fault'}
        </button>
        {answer && (
          <p className={answer.kind === 'ok' ? 'result-ok' : answer.kind === 'unavailable' ? 'muted' : 'result-error'} role="status">
            {answer.text}
          </p>
        )}
      </form>
      <Injections vmId={vmId} />
    </div>
  );
}

/** The injections with their outcomes: the server's list, updated by live 'fault' events. */
const Injections = memo(function Injections({ vmId }: { vmId: string }) {
  const { api, store } = useSession();
  useStoreVersion(store);
  const [listed, setListed] = useState<Injection[]>([]);
  useEffect(() => {
    let gone = false;
    api
      .faults(vmId)
      .then((r) => !gone && setListed(r.injections))
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, [api, vmId]);
  const live = store.events(vmId);
  const injections = useMemo(() => {
    const byId = new Map(listed.map((i) => [i.id, i]));
    for (const e of live) if (e.type === 'fault') byId.set(e.injection.id, e.injection);
    return [...byId.values()].sort((a, b) => b.time - a.time);
  }, [listed, live]);
  if (injections.length === 0) return null;
  return (
    <section aria-label="Injections" data-testid="injections">
      <h3>Injections, newest first</h3>
      <ul className="event-list">
        {injections.slice(0, 50).map((i) => (
          <li key={i.id} data-status={i.status} data-outcome={i.recovery?.outcome ?? ''}>
            <time dateTime={new Date(i.time).toISOString()}>{fmtTime(i.time)}</time>{' '}
            <span className="mono">{i.id}</span> <strong>{i.request.kind}</strong>: {i.effect.description}. <span className="muted">{outcome(i)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
});
