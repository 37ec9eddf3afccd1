// React's view of the telemetry store.
import { type RefObject, useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { TelemetryStore } from './store.ts';

/**
 * The store's version, re-rendering at most once per publish. With `active`
 * false the component keeps the version it had: a chart off-screen or in a
 * hidden tab stops re-rendering until it is visible again.
 */
export function useStoreVersion(store: TelemetryStore, active = true): number {
  const frozen = useRef(store.getVersion());
  const subscribe = useCallback((cb: () => void) => (active ? store.subscribe(cb) : () => {}), [store, active]);
  const v = useSyncExternalStore(subscribe, () => (active ? store.getVersion() : frozen.current));
  if (active) frozen.current = v;
  return v;
}

/** Whether the element is on screen and the tab is visible. */
export function useVisible(ref: RefObject<Element | null>): boolean {
  const [onScreen, setOnScreen] = useState(true);
  const [tabVisible, setTabVisible] = useState(() => typeof document === 'undefined' || document.visibilityState !== 'hidden');
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) setOnScreen(e.isIntersecting);
    });
    io.observe(el);
    return () => io.disconnect();
  }, [ref]);
  useEffect(() => {
    const on = () => setTabVisible(document.visibilityState !== 'hidden');
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);
  return onScreen && tabVisible;
}

/**
 * Like useStoreVersion, but re-renders at most once every `minMs`: charts whose
 * buckets are a second wide gain nothing from ten renders a second.
 */
export function useThrottledVersion(store: TelemetryStore, active: boolean, minMs: number): number {
  const [v, setV] = useState(() => store.getVersion());
  useEffect(() => {
    if (!active) return;
    let last = performance.now();
    let pending: ReturnType<typeof setTimeout> | null = null;
    setV(store.getVersion());
    const unsubscribe = store.subscribe(() => {
      const now = performance.now();
      if (now - last >= minMs) {
        last = now;
        setV(store.getVersion());
      } else if (pending === null) {
        pending = setTimeout(() => {
          pending = null;
          last = performance.now();
          setV(store.getVersion());
        }, minMs - (now - last));
      }
    });
    return () => {
      unsubscribe();
      if (pending !== null) clearTimeout(pending);
    };
  }, [store, active, minMs]);
  return v;
}

/** 'dark' or 'light', following prefers-color-scheme live. */
export function useColorScheme(): 'light' | 'dark' {
  const query = '(prefers-color-scheme: dark)';
  const [dark, setDark] = useState(() => typeof matchMedia !== 'undefined' && matchMedia(query).matches);
  useEffect(() => {
    const m = matchMedia(query);
    const on = () => setDark(m.matches);
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, []);
  return dark ? 'dark' : 'light';
}
