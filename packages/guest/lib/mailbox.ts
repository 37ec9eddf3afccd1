// The mailbox: the page through which a workload image reports to whoever
// runs it (include/uckpt_guest_abi.h), as the addons hand it to JavaScript
// (napi/mailbox_js.h).
export interface Mailbox {
  status: number;
  progress: number;
  progressTotal: number;
  runsDone: number;
  result: bigint;
  error: string;
  /** The workload's periodic consistency checks passed so far. */
  selfChecks: number;
  /** Where the workload's data (its arena) lives; 0 until the guest has set it up. */
  arenaBase: number;
  arenaBytes: number;
}
