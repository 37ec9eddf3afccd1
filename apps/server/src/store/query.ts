// Newest-first queries with optional filters. Each combination of filters
// present gets its own prepared statement, built once: SQLite can then use
// the index for the filters given, which a catch-all "(? IS NULL OR ...)"
// statement would defeat.
import type { Database, Statement } from 'better-sqlite3';

export const maxQueryLimit = 1000;
export const defaultQueryLimit = 100;

/** A requested page size brought into 1..maxQueryLimit. */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return defaultQueryLimit;
  return Math.min(maxQueryLimit, Math.max(1, Math.floor(limit)));
}

type FilterValue = string | number;

export class QueryCache<Row> {
  private readonly statements = new Map<string, Statement<[Record<string, FilterValue>], Row>>();

  /**
   * @param conditions each filter's SQL condition, naming its value as @filterName
   */
  constructor(
    private readonly db: Database,
    private readonly table: string,
    private readonly conditions: Readonly<Record<string, string>>,
  ) {}

  run(filters: Readonly<Record<string, FilterValue | undefined>>, limit: number): Row[] {
    const present = Object.keys(this.conditions).filter((name) => filters[name] !== undefined);
    const key = present.join(',');
    let statement = this.statements.get(key);
    if (!statement) {
      const where = present.map((name) => this.conditions[name]).join(' AND ');
      statement = this.db.prepare(
        `SELECT * FROM ${this.table} ${where ? `WHERE ${where}` : ''} ORDER BY id DESC LIMIT @limit`,
      );
      this.statements.set(key, statement);
    }
    const params: Record<string, FilterValue> = { limit };
    for (const name of present) params[name] = filters[name] as FilterValue;
    return statement.all(params);
  }
}
