// Checkpoint integrity: a stored page whose checksum no longer matches.
// Stored pages are checked before a rollback writes them back; a mismatch
// refuses the rollback and lists the checkpoint as not verified. This
// detector reports each checkpoint the moment it lists so; recovery never
// chooses one. The guest itself is not at fault: nothing to roll back.
import type { Detection, Detector, Observation } from './detector.js';

export class IntegrityDetector implements Detector {
  readonly name = 'checkpoint-integrity';
  readonly #reported = new Set<number>();

  latencyBoundMs(): number {
    return 0;
  }

  observe({ now, checkpoints }: Observation): Detection[] {
    const detections: Detection[] = [];
    const retained = new Set<number>();
    for (const checkpoint of checkpoints) {
      retained.add(checkpoint.seq);
      if (checkpoint.verified || this.#reported.has(checkpoint.seq)) continue;
      this.#reported.add(checkpoint.seq);
      detections.push({
        detector: this.name,
        time: now,
        message: `checkpoint ${checkpoint.seq} holds a stored page whose checksum no longer matches: it is marked corrupt and will not be used`,
        evidence: { seq: checkpoint.seq, checkpointTime: checkpoint.time, pages: checkpoint.pages },
        latencyBoundMs: 0,
        recoverable: false,
      });
    }
    // Forget retired checkpoints: a seq may come back after a rollback.
    for (const seq of this.#reported) if (!retained.has(seq)) this.#reported.delete(seq);
    return detections;
  }

  reset(): void {}
}
