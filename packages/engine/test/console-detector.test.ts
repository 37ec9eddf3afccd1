import { describe, expect, it } from 'vitest';
import { defaultSettings } from '../src/config.js';
import { ConsoleDetector, consoleDelayMs, lateLinesAfterRollbackMs } from '../src/agent/detectors/console.js';

const settings = { ...defaultSettings, crashLatencyMs: 200 };
const look = (detector: ConsoleDetector, now: number, consoleLines: string[]) =>
  detector.observe({ now, state: 'running', progress: { units: 0, runsDone: 0, lastChecksum: null }, checkpoints: [], consoleLines, vcpus: null, settings });

describe('console detector', () => {
  it("fires on a kernel's own error report, not on ordinary lines or warnings", () => {
    const quiet = [
      '[   20.25] clocksource: timekeeping watchdog on CPU0: Marking clocksource \'tsc\' as unstable because the skew is too large:',
      '[    4.59] WARNING: CPU: 0 PID: 1 at drivers/base/dd.c:123 really_probe+0x1/0x2',
      'uckpt-linux: result {"checksum":"d38b409c869f494b"}',
      'a program that prints BUGS or Oopsie',
    ];
    expect(look(new ConsoleDetector(), 1000, quiet)).toEqual([]);
    const reports = [
      ['[   61.2] Kernel panic - not syncing: sysrq triggered crash', 'a kernel panic'],
      ['[   12.0] Oops: 0002 [#1] PREEMPT SMP NOPTI', 'a kernel oops'],
      ['[   12.0] BUG: kernel NULL pointer dereference, address: 0000000000000008', 'a kernel BUG'],
      ['[   12.0] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP', 'a general protection fault'],
      ['[   52.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [uckpt-workload:91]', 'a kernel BUG'],
      ['[   52.1] rcu: INFO: rcu_sched self-detected stall on CPU', 'an RCU stall'],
    ];
    for (const [line, meaning] of reports) {
      const [alert, ...more] = look(new ConsoleDetector(), 1000, ['an ordinary line', line!]);
      expect(more).toEqual([]);
      expect(alert).toMatchObject({ detector: 'console', time: 1000, recoverable: true, evidence: { line } });
      expect(alert!.message).toContain(meaning!);
      expect(alert!.latencyBoundMs).toBe(200 + consoleDelayMs);
    }
  });

  it("an error's trace is one alert; after a rollback the old guest's late lines are not a new error", () => {
    const detector = new ConsoleDetector();
    expect(look(detector, 1000, ['Oops: 0002 [#1] SMP'])).toHaveLength(1);
    expect(look(detector, 1250, ['BUG: unable to handle page fault', 'Kernel panic - not syncing: Fatal exception'])).toEqual([]);
    detector.reset(2000);
    expect(look(detector, 2000 + lateLinesAfterRollbackMs - 1, ['Kernel panic - not syncing: Fatal exception'])).toEqual([]);
    expect(look(detector, 2000 + lateLinesAfterRollbackMs, ['Oops: 0000 [#2] SMP'])).toHaveLength(1);
  });
});
