// The availability model of a protected VM: pure computation, no I/O.
export * from './parameters.js';
export * from './availability.js';
export { protectedVmStates, unprotectedVmStates, singleDetector, protectedVmChain, unprotectedVmChain, solveProtectedVm, solveUnprotectedVm } from './protected-vm.js';
export type { ProtectedVmState, UnprotectedVmState, ProtectedVmSolution } from './protected-vm.js';
export { recoveryOutlook, latencySurvival, type DetectorClass, type RecoveryOutlook, type RecoveryInputs } from './detection-latency.js';
export { solveRenewalChain, type RenewalChain, type RenewalSteadyState } from './markov-renewal.js';
export { solveLinearSystem, stationaryDistribution } from './linear-solver.js';
export { checkpointCost, detectionFromInjections, erlangShape, median, minimumObservations, parametersFromMeasurements, writeRateWithin, type EpochWindow, type Measurements, type MeasuredParameters, type ObservedInjection } from './measured.js';
