// What a hostile run tells its reader: progress lines, tables of figures,
// the list of violated assertions, and a JSON file of everything under
// e2e/hostile/results/ (kept out of git).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const resultsDir = fileURLToPath(new URL('./results', import.meta.url));

const startedAt = Date.now();

export function progress(message: string): void {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${seconds}s] ${message}\n`);
}

/** A table with a header row; numbers are right-aligned. */
export function table(title: string, header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => String(row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'));
  const line = (row: (string | number)[]) =>
    row.map((cell, column) => (numeric[column] ? String(cell).padStart(widths[column]!) : String(cell).padEnd(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [`\n${title}`, line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

/** Two columns: what, how much. */
export function figures(title: string, rows: [string, string | number][]): string {
  return table(title, ['figure', 'value'], rows.map(([name, value]) => [name, typeof value === 'number' ? value.toLocaleString('en-US') : value]));
}

/** Collects violated assertions; a run passes only with none. */
export class Verdict {
  readonly violations: string[] = [];

  check(ok: boolean, message: string): boolean {
    if (!ok) this.fail(message);
    return ok;
  }

  fail(message: string): void {
    this.violations.push(message);
    progress(`VIOLATION: ${message}`);
  }

  get passed(): boolean {
    return this.violations.length === 0;
  }

  summary(name: string): string {
    if (this.passed) return `\n${name}: PASS (no assertion violated)`;
    const listed = this.violations.slice(0, 40).map((violation) => `  - ${violation}`);
    const more = this.violations.length > 40 ? [`  ... and ${this.violations.length - 40} more (see the JSON results)`] : [];
    return [`\n${name}: FAIL, ${this.violations.length} violated assertion(s):`, ...listed, ...more].join('\n');
  }
}

/** Writes the run's results as `<name>.json` (the latest) and `<name>-<time>.json`; returns the latter's path. */
export function writeResults(name: string, results: unknown): string {
  mkdirSync(resultsDir, { recursive: true });
  const text = `${JSON.stringify(results, null, 2)}\n`;
  const stamped = path.join(resultsDir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(stamped, text);
  writeFileSync(path.join(resultsDir, `${name}.json`), text);
  return stamped;
}

/** Counts by key, for tables "by status" and the like. */
export class Tally {
  readonly counts = new Map<string, number>();

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  sorted(): [string, number][] {
    return [...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.sorted());
  }
}
