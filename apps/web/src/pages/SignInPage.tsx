import { type FormEvent, useId, useState } from 'react';
import { ApiError, signIn } from '../api/client.ts';
import type { Role } from '../api/types.ts';

export function SignInPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (token: string, role: Role) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter the token the server was started with.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSignedIn(t, await signIn(t));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('This token was refused by the server.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} aria-labelledby={`${id}-h`} noValidate>
        <h1 id={`${id}-h`}>μCheckpoint</h1>
        <p className="muted">Sign in with an operator or viewer token. It is kept for this browser tab only.</p>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor={`${id}-t`}>Token</label>
        <input
          id={`${id}-t`}
          name="token"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={token}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-e` : undefined}
          onChange={(e) => setToken(e.target.value)}
        />
        {error && (
          <p id={`${id}-e`} className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="btn-primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
