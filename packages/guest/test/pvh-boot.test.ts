// The image's second entry point: booted as a PVH guest (as Xen boots it)
// under QEMU's software emulation, it computes the same checksums.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runOnHost } from '../lib/index.js';

const smoke = fileURLToPath(new URL('../pvh-smoke.sh', import.meta.url));
const hasQemu = (() => {
  try {
    execFileSync('qemu-system-x86_64', ['--version']);
    return true;
  } catch {
    console.warn('\n*** qemu-system-x86_64 is not installed: the PVH boot tests are SKIPPED ***\n');
    return false;
  }
})();

describe.skipIf(!hasQemu)('PVH entry under QEMU', () => {
  for (const run of [
    { workload: 'dp', seed: 1, size: 20 },
    { workload: 'hashtable', seed: 2, size: 8 },
  ]) {
    it(`${run.workload} boots through the PVH note and matches the host checksum`, async () => {
      const args = Object.entries(run).map(([k, v]) => `${k}=${v}`);
      const [{ stdout }, host] = await Promise.all([
        promisify(execFile)(smoke, args, { encoding: 'utf8', env: { ...process.env, PVH_SMOKE_TIMEOUT: '120' } }),
        runOnHost(run),
      ]);
      const result = JSON.parse(stdout) as { status: string; checksum: string };
      expect(result.status).toBe('done');
      expect(result.checksum).toBe(host.checksum);
    });
  }
});
