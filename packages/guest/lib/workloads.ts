// The guest workloads: where their image and host program are, what they
// are, and how to run one on the host (the checksum oracle).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const buildDir = fileURLToPath(new URL('../build/', import.meta.url));
export const guestImagePath = path.join(buildDir, 'uckpt-guest.elf');
export const hostProgramPath = path.join(buildDir, 'uckpt-workload-host');

export interface WorkloadDescriptor {
  name: string;
  summary: string;
  sizeUnit: string;
  defaultSize: number;
  paramUnit: string | null;
  defaultParam: number;
}

export interface WorkloadRun {
  workload: string;
  seed: number;
  size?: number;
  param?: number;
}

export interface RunResult {
  workload: string;
  on: 'kvm' | 'host';
  seed: number;
  /** 16 lowercase hex digits. */
  checksum: string;
  runtimeMs: number;
  progressUnits: number;
  /** Progress units per second. */
  progressRate: number;
}

let descriptors: WorkloadDescriptor[] | undefined;

function requireBuilt(file: string): void {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build the guest workloads with \`bash scripts/setup.sh\` or \`pnpm build:native\``);
  }
}

/** The workloads the image carries, in its own order (their index is the id). */
export function listWorkloads(): WorkloadDescriptor[] {
  if (!descriptors) {
    requireBuilt(hostProgramPath);
    descriptors = JSON.parse(execFileSync(hostProgramPath, ['--list'], { encoding: 'utf8' })) as WorkloadDescriptor[];
  }
  return descriptors;
}

export function findWorkload(name: string): { index: number; descriptor: WorkloadDescriptor } {
  const all = listWorkloads();
  const index = all.findIndex((w) => w.name === name);
  if (index < 0) {
    throw new Error(`unknown workload "${name}"; the workloads are: ${all.map((w) => w.name).join(', ')}`);
  }
  return { index, descriptor: all[index]! };
}

export function formatChecksum(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** Runs the workload as an ordinary host program: the checksum oracle. */
export async function runOnHost(run: WorkloadRun): Promise<RunResult> {
  findWorkload(run.workload);
  const args = ['--workload', run.workload, '--seed', String(run.seed)];
  if (run.size) args.push('--size', String(run.size));
  if (run.param) args.push('--param', String(run.param));
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(hostProgramPath, args, { encoding: 'utf8' }));
  } catch (error) {
    const out = (error as { stdout?: string; stderr?: string });
    const parsed = out.stdout ? (JSON.parse(out.stdout) as { error?: string }) : undefined;
    throw new Error(`host run of ${run.workload} failed: ${parsed?.error ?? out.stderr ?? String(error)}`);
  }
  const r = JSON.parse(stdout) as { checksum: string; runtimeMs: number; progressUnits: number };
  return {
    workload: run.workload,
    on: 'host',
    seed: run.seed,
    checksum: r.checksum,
    runtimeMs: r.runtimeMs,
    progressUnits: r.progressUnits,
    progressRate: r.progressUnits / (r.runtimeMs / 1000),
  };
}
