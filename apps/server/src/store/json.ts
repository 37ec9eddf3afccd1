// JSON in and out of TEXT columns, with errors that say which value failed
// instead of a bare SyntaxError or TypeError from deep inside a statement.
import { EngineError } from '@uckpt/engine';

/** Serializes a value for storage; a value JSON cannot hold (BigInt, a cycle) is the caller's mistake. */
export function toJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new EngineError('invalid-argument', `${what} cannot be stored as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new EngineError('invalid-argument', `${what} cannot be stored as JSON: it is ${typeof value}`);
  return text;
}

/** Parses a stored value; a corrupt row is a damaged database, reported as such. */
export function fromJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new EngineError('internal', `${what} in the database is not valid JSON: ${(error as Error).message}`);
  }
}
