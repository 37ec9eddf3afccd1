// Units across the boundaries, converted here and nowhere else: the core
// measures in ns, telemetry events carry µs, the dashboard's charts show ms
// and Prometheus takes seconds. Browser-safe: the dashboard imports it too.

export const nsToUs = (ns: number): number => ns / 1e3;
export const usToMs = (us: number): number => us / 1e3;
export const usToSeconds = (us: number): number => us / 1e6;
export const msToSeconds = (ms: number): number => ms / 1e3;
