// Runs the xenstore framing's C++ tests (no Xen needed) as part of the suite.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('the xenstore exchange tests pass', () => {
  const binary = fileURLToPath(new URL('../addon/build/Release/xenstore_exchange_test', import.meta.url));
  let output: string;
  try {
    output = execFileSync(binary, { encoding: 'utf8' });
  } catch (error) {
    throw new Error(`xenstore exchange tests failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
  expect(output).toMatch(/^(\d+) passed, 0 failed$/m);
  expect(Number(/^(\d+) passed/m.exec(output)![1])).toBeGreaterThanOrEqual(4);
});
