// Errors the engine reports with a stable code, so the server can map them
// to HTTP statuses and clients can tell them apart without parsing prose.
export type EngineErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'conflict'
  | 'timeout'
  | 'agent-unavailable'
  | 'backend-unavailable'
  | 'rollback-refused'
  | 'unsupported'
  | 'internal';

export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }

  static from(error: unknown): EngineError {
    if (error instanceof EngineError) return error;
    return new EngineError('internal', error instanceof Error ? error.message : String(error));
  }
}
