#!/usr/bin/env node
// The uckpt command line: `uckpt <command> [options]`.
import { UsageError } from './usage-error.js';

const usage = `usage: uckpt <command> [options]

commands:
  bench-telemetry             telemetry fan-out: N VMs x M WebSocket clients through a real server
      [--vms 8] [--clients 50] [--interval-ms 50] [--seconds 20] [--backend kvm|sim] [--out DIR]
  serve                       the service: REST API, telemetry, dashboard, one agent per protected VM
      [--host H] [--port P] [--state-dir DIR] [--demo] [--allow-host NAME]... [--allow-fault-injection]
      [--hypervisor auto|kvm|kvm-rig]  (auto: KVM here, else in the KVM rig where this host has no /dev/kvm)
      [--sockets-dir DIR]  (the agents' sockets, default STATE_DIR/agents; a local file system)
      [--max-vms 32] [--memory-budget-mib N (default 80% of the host's memory)]
      [--rate-limit-mutations-per-minute 120] [--rate-limit-reads-per-minute 1200]  (per token, or per address without one)
  domains [--json]            a Xen host's domains, and which VM protects each (through the server)
  protect DOMAIN               protect an existing Xen PVH domain, by name or domid, through the server
      [--name VM_NAME] [--interval-ms N] [--retention K] [--json]
      (domains, protect and inject take the server options below)
  inject --vm ID --kind K      inject a fault into a VM through the server (for testing detectors and recovery)
      K: bit-flip [--region data|code|stack] [--page N] [--bits N] | register [--register R] [--bits N]
         | hang | crash | checkpoint-page [--seq N] [--page N];  [--seed S] [--json]
      [--server URL (UCKPT_URL, default http://127.0.0.1:8080)]
      [--token-file F | UCKPT_TOKEN; default STATE_DIR/operator.token] [--state-dir DIR]
  workloads [--json]          list the guest workloads
  run --workload NAME         run one workload to completion and print its checksum
      [--on kvm|host] [--memory-mib N] [--vcpus N] [--seed S] [--size X] [--param Y] [--json]
      [--mode off|stop-and-copy|cow] [--interval-ms N] [--retention K] [--rollbacks N]
      [--store-mib N] [--copy-threads N] [--predictor off|history|frontier|cost] [--no-precopy]
      [--dirty-tracking bitmap|ring]
  bench                       checkpointing overhead: each workload unprotected, then in each mode
                              without and with prediction, alternating; a dirtier sweep; pauses; table, JSON, chart
      [--quick] [--workloads a,b,...] [--intervals 10,25,50,100] [--modes stop-and-copy,cow]
      [--prediction cost|history|frontier|none] [--predictors history,frontier,cost|none]
      [--repeat N] [--rollbacks N] [--max-slowdown X] [--no-sweep] [--no-ring] [--no-precopy]
      [--size-scale F] [--copy-threads N] [--out DIR] [--json]
  campaign                    fault-injection campaign: N faults (bit flips in data/code/stack, registers,
                              hangs, crashes) into finite KVM runs, detected and recovered by the agent,
                              classified against the host checksum; resumable; JSON and chart
      [--n 1000] [--seed S] [--workloads a,b,...] [--kinds data,code,stack,register,hang,crash]
      [--retention K (default: covers the detectors' bounds)] [--compare-retention K[,K...]]
      [--interval-ms 50] [--hang-timeout-ms 300] [--out DIR] [--resume FILE.jsonl] [--json]
  validate-model              the availability model against the engine: a looping workload protected in a KVM
                              VM under faults at a known rate; kept work / unprotected rate vs the model fed
                              the parameters the run measured; table or JSON
      [--seconds 120] [--calibration-s 10] [--mean-gap-s 3 | --rate-per-hour N] [--seed 1]
      [--workload dp] [--kinds hang,crash,data] [--interval-ms 50] [--repair-s 60] [--out DIR] [--json]
`;

type Command = (args: string[]) => number | Promise<number>;

// Each command is loaded when it is asked for: `serve` has no use for the
// laboratory or the KVM VMM, and loading them costs seconds where the
// service starts under emulation (the nested Xen rig).
const commands: Record<string, () => Promise<Command>> = {
  workloads: async () => (await import('./commands/workloads.js')).workloadsCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  bench: async () => (await import('./commands/bench.js')).benchCommand,
  'bench-telemetry': async () => (await import('./commands/bench-telemetry.js')).benchTelemetryCommand,
  campaign: async () => (await import('./commands/campaign.js')).campaignCommand,
  inject: async () => (await import('./commands/inject.js')).injectCommand,
  domains: async () => (await import('./commands/domains.js')).domainsCommand,
  protect: async () => (await import('./commands/domains.js')).protectCommand,
  'validate-model': async () => (await import('./commands/validate-model.js')).validateModelCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`uckpt: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    return await (await load())(args);
  } catch (error) {
    const parseError = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (error instanceof UsageError || parseError) {
      process.stderr.write(`uckpt ${name}: ${(error as Error).message}\n`);
      return 2;
    }
    // Loaded only now: most commands never touch the VMM.
    const { GuestRunError } = await import('@uckpt/native-kvm');
    if (error instanceof GuestRunError) {
      process.stderr.write(`uckpt ${name}: ${error.message}\n`);
      for (const line of error.console.slice(-10)) process.stderr.write(`  guest: ${line}\n`);
      return 1;
    }
    process.stderr.write(`uckpt ${name}: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
