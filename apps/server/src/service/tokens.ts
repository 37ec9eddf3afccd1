// Bearer tokens and their roles. Tokens come from the environment (for
// automation) or from files in the state directory, created with mode 0600
// on first start. Only their SHA-256 digests are kept in memory for
// comparison, and comparison takes constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Role } from '../store/index.js';

export interface Identity {
  role: Role;
  /** Safe to log and audit: says which token, never what it is. */
  label: string;
}

interface TokenEntry extends Identity {
  digest: Buffer;
}

export interface TokenSource {
  role: Role;
  /** Where the token came from: an environment variable or a file path. */
  origin: string;
  created: boolean;
}

const minimumTokenLength = 16;

export class TokenRing {
  readonly #entries: TokenEntry[] = [];

  add(role: Role, token: string, label: string): void {
    if (token.length < minimumTokenLength) {
      throw new Error(`the ${role} token (${label}) must be at least ${minimumTokenLength} characters`);
    }
    this.#entries.push({ role, label, digest: digest(token) });
  }

  /** The identity a presented token proves, or null. Every entry is compared, so timing says nothing. */
  identify(token: string): Identity | null {
    const presented = digest(token);
    let match: Identity | null = null;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, presented) && !match) match = { role: entry.role, label: entry.label };
    }
    return match;
  }
}

/**
 * The operator and viewer tokens: UCKPT_OPERATOR_TOKEN / UCKPT_VIEWER_TOKEN
 * when set, otherwise `operator.token` / `viewer.token` in the state
 * directory, generated when missing.
 */
export function loadTokens(stateDir: string, env: NodeJS.ProcessEnv = process.env): { ring: TokenRing; sources: TokenSource[] } {
  const ring = new TokenRing();
  const sources: TokenSource[] = [];
  for (const role of ['operator', 'viewer'] as const) {
    const variable = `UCKPT_${role.toUpperCase()}_TOKEN`;
    const fromEnv = env[variable];
    if (fromEnv) {
      ring.add(role, fromEnv, `${role}:env`);
      sources.push({ role, origin: `$${variable}`, created: false });
      continue;
    }
    const file = path.join(stateDir, `${role}.token`);
    const created = !existsSync(file);
    if (created) writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    ring.add(role, readFileSync(file, 'utf8').trim(), `${role}:file`);
    sources.push({ role, origin: file, created });
  }
  return { ring, sources };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
