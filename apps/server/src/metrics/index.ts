// Prometheus metrics over the telemetry stream, for GET /metrics.
export {
  TelemetryMetrics,
  pauseBucketsSeconds,
  rollbackBucketsSeconds,
  vmStates,
  type TelemetryMetricsOptions,
  type VmInfo,
} from './telemetry-metrics.js';
