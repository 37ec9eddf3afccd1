// Persistence for the server: VM definitions, the audit log, the event history.
export { Store, databaseFileName, type StoreOptions } from './store.js';
export { newVmId, type AgentIdentity, type NewVm, type VmRecord } from './vms.js';
export { AuditArchive, auditArchiveDir, defaultAuditRetention, type AuditRetention } from './audit-archive.js';
export { auditResult, type Actor, type AuditEntry, type AuditQuery, type AuditRecord, type Role } from './audit.js';
export {
  isHistoryEvent,
  type EventQuery,
  type HistoryEvent,
  type HistoryEventType,
  type HistoryRecord,
  type RetentionOptions,
} from './event-history.js';
export {
  EpochSummarizer,
  type CheckpointSummaryEvent,
  type SummarizerOptions,
  type SummarySink,
} from './epoch-summarizer.js';
export { maxQueryLimit, defaultQueryLimit } from './query.js';
export { latestSchemaVersion, migrate, migrations, schemaVersion, type Migration } from './migrations.js';
