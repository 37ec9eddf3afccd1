// The server's test helpers, shared (one gate for KVM, one way to wait), and the CLI run as a user runs it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliPath } from '../../server/test/helper.js';

export * from '../../server/test/helper.js';

/** Runs the built `uckpt` with `args`; its exit code and output, whatever they are. */
export async function uckpt(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return uckptWithEnv({}, ...args);
}

/** As uckpt(), with these environment variables added. */
export async function uckptWithEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
