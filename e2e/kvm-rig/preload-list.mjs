// Prints, one per line, what tests.sh has the rig load into its RAM at boot
// (rig.sh --preload-list): the service's runtime (apps/cli/src/commands/rig-preload.ts),
// vitest's and fast-check's, and the workspace's sources and tests. In the rig
// every file read over 9p costs milliseconds under emulation, and each vitest
// run and each spawned `uckpt` imports thousands.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeFiles } from '../../apps/cli/dist/commands/rig-preload.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fromRoot = createRequire(path.join(repoRoot, 'package.json'));
const packageDir = (name) => path.dirname(realpathSync(fromRoot.resolve(`${name}/package.json`)));

const paths = new Set([
  ...runtimeFiles(path.join(repoRoot, 'apps/cli')),
  ...['vitest', 'fast-check'].flatMap((name) => runtimeFiles(packageDir(name))),
]);
for (const group of ['apps', 'packages']) {
  for (const name of readdirSync(path.join(repoRoot, group))) {
    for (const entry of ['package.json', 'src', 'lib', 'test']) {
      const file = path.join(repoRoot, group, name, entry);
      if (existsSync(file)) paths.add(file);
    }
  }
}
for (const file of ['package.json', 'vitest.config.ts', 'tsconfig.json', 'tsconfig.base.json']) {
  if (existsSync(path.join(repoRoot, file))) paths.add(path.join(repoRoot, file));
}
console.log([...paths].sort().join('\n'));
