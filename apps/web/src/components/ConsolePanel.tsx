import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useSession } from '../app-context.ts';
import { useStoreVersion, useVisible } from '../telemetry/hooks.ts';

/** The guest's console: its last lines, then live ones. */
export function ConsolePanel({ vmId }: { vmId: string }) {
  const { api, store } = useSession();
  const ref = useRef<HTMLPreElement>(null);
  const visible = useVisible(ref);
  useStoreVersion(store, visible);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .console(vmId, 200)
      .then((r) => store.setConsole(vmId, r.lines))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [api, store, vmId]);
  const lines = store.console(vmId);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 60) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <div>
      {error && <p className="result-error">Could not load the console: {error}</p>}
      <pre ref={ref} className="console" tabIndex={0} aria-label="Guest console output" data-testid="console">
        {lines.length ? lines.join('\n') : 'No console output yet.'}
      </pre>
    </div>
  );
}
