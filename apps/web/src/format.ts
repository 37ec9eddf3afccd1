// Number formatting with units, shared by tables, charts and tooltips.
export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '–';
  if (b < 1024) return `${b} B`;
  if (b < 1048576) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1073741824) return `${(b / 1048576).toFixed(1)} MiB`;
  return `${(b / 1073741824).toFixed(2)} GiB`;
}

export function fmtNum(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(digits)} M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(digits)} k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

export function fmtPct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const r = Number(v.toFixed(digits));
  return `${(r === 0 ? 0 : r).toFixed(digits)} %`; // never "-0.0 %"
}

export function fmtUs(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return '–';
  if (us < 1000) return `${us.toFixed(0)} µs`;
  return `${(us / 1000).toFixed(2)} ms`;
}

export function fmtAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const a = Math.max(0, ms);
  if (a < 1000) return `${a.toFixed(0)} ms`;
  if (a < 60_000) return `${(a / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${Math.floor(a / 60_000)} min ${Math.floor((a % 60_000) / 1000)} s`;
  return `${(a / 3_600_000).toFixed(1)} h`;
}

export function fmtTime(t: number): string {
  return new Date(t).toLocaleTimeString(undefined, { hour12: false });
}

export function fmtClock(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}
