// Fault injection, for testing detectors and recovery. The endpoint may not
// exist on this server yet: a 404 or 501 says so instead of failing loudly.
import { type FormEvent, useId, useState } from 'react';
import { ApiError } from '../api/client.ts';
import type { FaultKind, FaultRequest } from '../api/types.ts';
import { useSession } from '../app-context.ts';

const kinds: { kind: FaultKind; label: string; help: string }[] = [
  { kind: 'bit-flip', label: 'Memory bit flip', help: 'flips bits in a guest page' },
  { kind: 'register', label: 'Register corruption', help: 'corrupts a vCPU register' },
  { kind: 'hang', label: 'Hang', help: 'stops the guest making progress' },
  { kind: 'crash', label: 'Crash', help: 'makes the guest fault' },
];

export function FaultPanel({ vmId }: { vmId: string }) {
  const { api } = useSession();
  const id = useId();
  const [kind, setKind] = useState<FaultKind>('bit-flip');
  const [bits, setBits] = useState('1');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ kind: 'ok' | 'error' | 'unavailable'; text: string } | null>(null);
  const bitsErr = kind === 'bit-flip' && !/^[1-9]\d*$/.test(bits) ? 'Enter a whole number of bits (1 or more).' : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (bitsErr) return;
    setBusy(true);
    setAnswer(null);
    const req: FaultRequest = kind === 'bit-flip' ? { kind, bits: Number(bits) } : { kind };
    try {
      await api.injectFault(vmId, req);
      setAnswer({ kind: 'ok', text: `Injected: ${kinds.find((k) => k.kind === kind)!.label.toLowerCase()}. Watch the events for the alert.` });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 501))
        setAnswer({ kind: 'unavailable', text: 'Fault injection is not available on this server (yet).' });
      else setAnswer({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="fault-panel" onSubmit={submit} noValidate data-testid="fault-panel">
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
          <label htmlFor={`${id}-bits`}>Bits to flip</label>
          <input id={`${id}-bits`} inputMode="numeric" value={bits} onChange={(e) => setBits(e.target.value)} aria-invalid={bitsErr ? true : undefined} aria-describedby={`${id}-bits-h`} />
          <span id={`${id}-bits-h`} className={bitsErr ? 'field-error' : 'hint'}>
            {bitsErr ?? 'in one randomly chosen page the guest uses'}
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
  );
}
