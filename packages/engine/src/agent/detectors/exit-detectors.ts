// Detectors of how a run ended: the guest's own self-check failing (it
// reports the error and stops) and a crash (an exception, a triple fault or
// shutdown, any other unexpected exit). A clean finish or a requested stop
// is neither.
import type { BackendExit } from '../../backend.js';
import type { CheckpointSettings } from '../../config.js';
import type { Detection, Detector, DetectorName, Observation } from './detector.js';

abstract class ExitDetector implements Detector {
  abstract readonly name: DetectorName;
  abstract latencyBoundMs(settings: CheckpointSettings): number;
  protected abstract matches(exit: BackendExit): boolean;

  observe({ now, exit, settings, progress }: Observation): Detection[] {
    if (!exit || !this.matches(exit)) return [];
    return [
      {
        detector: this.name,
        time: now,
        message: exit.reason,
        evidence: { cause: exit.cause, ...exit.detail, units: progress.units },
        latencyBoundMs: this.latencyBoundMs(settings),
        recoverable: true,
      },
    ];
  }

  reset(): void {}
}

export class SelfCheckDetector extends ExitDetector {
  readonly name = 'self-check';

  latencyBoundMs(settings: CheckpointSettings): number {
    return settings.selfCheckLatencyMs;
  }

  protected matches(exit: BackendExit): boolean {
    return exit.cause === 'guest-error';
  }
}

export class CrashDetector extends ExitDetector {
  readonly name = 'crash';

  latencyBoundMs(settings: CheckpointSettings): number {
    return settings.crashLatencyMs;
  }

  protected matches(exit: BackendExit): boolean {
    return exit.cause === 'crash' || exit.cause === 'internal';
  }
}
