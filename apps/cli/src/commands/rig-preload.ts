// What the service reads to start, listed for the KVM rig to load into its
// RAM at boot (rig.sh --preload-list). In the rig every file that node
// opens or stats over the host's 9p share costs milliseconds under
// emulation: importing the service took 17 s there (1,458 opens, 5,655
// stats). The files listed are read from RAM instead; anything not listed
// still comes from the share, so a list that misses a file only costs time.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './kvm-rig.js';

/** The directories a package needs at run time, when it is one of the workspace's (not from the store). */
const workspaceRuntime = ['package.json', 'dist', 'build', 'addon/build/Release', 'node_modules'];

/** Where node finds `name` from `dir`: the first node_modules up the tree that has it. */
function resolvePackage(dir: string, name: string): string | null {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, 'node_modules', name);
    if (existsSync(candidate)) return realpathSync(candidate);
    if (at === path.dirname(at)) return null;
  }
}

/**
 * The paths a package needs to run, with its dependencies', transitively:
 * for a package from pnpm's store its whole store entry (the package and
 * the links to its dependencies), for a workspace package its built output
 * and its links.
 */
export function runtimeFiles(packageDir: string): string[] {
  const paths = new Set<string>();
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const storeEntry = /^(.*\/node_modules\/\.pnpm\/[^/]+)\//.exec(dir);
    if (storeEntry) paths.add(storeEntry[1]!);
    else for (const entry of workspaceRuntime) if (existsSync(path.join(dir, entry))) paths.add(path.join(dir, entry));
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const names = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies });
    for (const name of names) {
      const found = resolvePackage(dir, name);
      if (found && existsSync(path.join(found, 'package.json'))) visit(found);
    }
  };
  visit(realpathSync(packageDir));
  return [...paths].sort();
}

/** What `uckpt serve` reads: the command line's runtime, and the dashboard's files it serves. */
export function serviceFiles(): string[] {
  return [...runtimeFiles(path.join(repoRoot, 'apps/cli')), path.join(repoRoot, 'apps/web/dist')];
}
