// What automatic recovery does on its own goes into the audit log next to
// what operators do: each alert with the action taken, each recovery
// rollback, each recovery outcome, and each injection once its outcome is
// known. The actor is 'system'; the parameters are the event itself.
import type { TelemetryEvent } from '@uckpt/engine';
import { auditResult, type AuditEntry } from '../store/index.js';

type SystemAudit = Omit<AuditEntry, 'role' | 'tokenLabel' | 'client'>;

/** The audit entry an agent event calls for, or null for events that are not recovery steps. */
export function recoveryAuditEntry(event: TelemetryEvent): SystemAudit | null {
  switch (event.type) {
    case 'alert':
      return {
        time: event.time,
        action: 'recovery.alert',
        target: event.vmId,
        parameters: event,
        result: event.action === 'failed' ? auditResult({ code: 'recovery-failed', message: event.actionReason ?? event.message }) : 'ok',
      };
    case 'rollback':
      if (event.cause !== 'recovery') return null;
      return {
        time: event.time,
        action: 'recovery.rollback',
        target: event.vmId,
        parameters: event,
        result: event.ok ? 'ok' : auditResult({ code: 'rollback-refused', message: event.error ?? 'refused' }),
      };
    case 'recovery':
      return {
        time: event.time,
        action: 'recovery.outcome',
        target: event.vmId,
        parameters: event,
        result: event.outcome === 'failed' ? auditResult({ code: 'recovery-failed', message: event.message }) : 'ok',
      };
    case 'fault': {
      const { injection } = event;
      const settled = injection.status === 'undetected' || injection.recovery !== undefined;
      if (!settled) return null;
      const failed = injection.status === 'undetected' || injection.recovery?.outcome === 'failed';
      return {
        time: event.time,
        action: 'fault.outcome',
        target: event.vmId,
        parameters: injection,
        result: failed ? auditResult({ code: injection.status, message: injection.recovery?.message ?? 'no detector caught it before the run ended' }) : 'ok',
      };
    }
    default:
      return null;
  }
}
