// What auto-tune changes on its own goes into the audit log next to what
// operators change: each new interval, with its reason. The actor is
// 'system'; the parameters are the event itself.
import type { TelemetryEvent } from '@uckpt/engine';
import type { AuditEntry } from '../store/index.js';

type SystemAudit = Omit<AuditEntry, 'role' | 'tokenLabel' | 'client'>;

/** The audit entry for an interval auto-tune set, or null for any other event. */
export function tuningAuditEntry(event: TelemetryEvent): SystemAudit | null {
  if (event.type !== 'interval-tuned') return null;
  return { time: event.time, action: 'autotune.interval', target: event.vmId, parameters: event, result: 'ok' };
}
