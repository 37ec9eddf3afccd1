// Without a usable /dev/kvm the error says what is wrong and what to do.
// Run in a child process whose view of /dev is changed: a private mount
// namespace with an empty /dev, or one whose /dev/kvm is a root-only device
// node opened by an unprivileged user. Neither needs the host to have KVM.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const probe = `import(${JSON.stringify(lib)}).then(({ Vm }) => {
  try { Vm.create({ memoryMiB: 64 }); console.log('created'); }
  catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
});`;

async function run(command: string, args: string[]): Promise<{ code?: string; message?: string } | undefined> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { encoding: 'utf8' });
    return JSON.parse(stdout.trim()) as { code: string; message: string };
  } catch {
    return undefined; // the sandbox tool itself is unavailable here
  }
}

const isRoot = process.getuid?.() === 0;

describe('without a usable /dev/kvm', () => {
  it.skipIf(!isRoot)('a missing /dev/kvm is ENOENT with a hint', async () => {
    const node = process.execPath;
    const result = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs tmpfs /dev && exec ${node} -e '${probe}'`]);
    if (!result) return console.warn('*** unshare is not available: the missing-/dev/kvm case is SKIPPED ***');
    expect(result.code).toBe('ENOENT');
    expect(result.message).toMatch(/^open \/dev\/kvm: No such file or directory \(errno 2\) \(\/dev\/kvm does not exist/);
  });

  it.skipIf(!isRoot)('no permission is EACCES with a hint', async () => {
    const node = process.execPath;
    const result = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      'mount -t tmpfs tmpfs /dev && mknod -m 600 /dev/kvm c 10 232 && ' +
      `exec setpriv --reuid=65534 --regid=65534 --clear-groups ${node} -e '${probe}'`]);
    if (!result) return console.warn('*** unshare or setpriv is not available: the no-permission case is SKIPPED ***');
    expect(result.code).toBe('EACCES');
    expect(result.message).toMatch(/Permission denied.*run as root or add this user to the kvm group/);
  });
});
