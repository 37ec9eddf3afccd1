// The files the KVM rig loads into RAM for `serve --hypervisor kvm-rig`:
// the service's runtime, its dependencies' whole, and nothing of the tools.
import { createRequire } from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtimeFiles, serviceFiles } from '../src/commands/rig-preload.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cliDir = path.join(repoRoot, 'apps/cli');

describe('what the rig preloads for the service', () => {
  const files = runtimeFiles(cliDir);
  const covered = (file: string) => files.some((listed) => file === listed || file.startsWith(`${listed}/`));

  it('lists paths that exist, each once', () => {
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) expect(existsSync(file), file).toBe(true);
    expect(new Set(files).size).toBe(files.length);
  });

  it("covers the workspace's built output, the addons and the guest image", () => {
    for (const dir of ['apps/server/dist', 'apps/cli/dist', 'packages/engine/dist', 'packages/native-kvm/addon/build/Release', 'packages/guest/build']) {
      expect(covered(path.join(repoRoot, dir)), dir).toBe(true);
    }
  });

  it('covers the modules the service resolves, transitively', () => {
    const fromServer = createRequire(path.join(repoRoot, 'apps/server/package.json'));
    const fastify = realpathSync(fromServer.resolve('fastify'));
    const fromFastify = createRequire(fastify);
    for (const file of [fastify, realpathSync(fromServer.resolve('better-sqlite3')), realpathSync(fromFastify.resolve('avvio'))]) {
      expect(covered(file), file).toBe(true);
    }
  });

  it("adds, for the service, the dashboard's files it serves", () => {
    expect(serviceFiles()).toEqual([...files, path.join(repoRoot, 'apps/web/dist')]);
  });

  it('leaves out the development tools', () => {
    const vitest = realpathSync(createRequire(path.join(repoRoot, 'package.json')).resolve('vitest'));
    expect(covered(vitest)).toBe(false);
  });
});
