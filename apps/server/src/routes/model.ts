import {
  analyseAvailability,
  defaultAvailabilityParameters,
  defaultOverheadBudgetPct,
  detectionFromInjections,
  detectorBoundsMs,
  EngineError,
  parametersFromMeasurements,
  progressSampleMs,
  workingSetCovering,
  writeRateWithin,
  type AvailabilityParameters,
  type Measurements,
  type ObservedInjection,
} from '@uckpt/engine';
import type { Store } from '../store/index.js';
import { errors } from '../schemas/common.js';
import { AvailabilityAnswer, AvailabilityQuery } from '../schemas/model.js';
import { typed, type Routes } from './context.js';

type ParameterSource = 'default' | 'override' | 'measured' | 'configured';
type Sourced = Record<keyof AvailabilityParameters, { value: number; source: ParameterSource }>;

/** The last hour of epoch summaries (one a minute) and the last rollbacks are what the model learns from. */
const summariesUsed = 60;
const rollbacksUsed = 100;
/** Each injection's changes are events of their own: enough for the last hundred or so injections. */
const faultEventsUsed = 1000;

export const modelRoutes: Routes = async (app, { supervisor, store }) => {
  const api = typed(app);

  api.get('/api/model/availability', {
    config: { access: 'viewer' },
    schema: {
      tags: ['model'],
      summary: 'Availability of a protected VM from the Markov model: now, unprotected, over intervals, and the recommended interval',
      querystring: AvailabilityQuery,
      response: { 200: AvailabilityAnswer, ...errors(400, 401, 404) },
    },
  }, async (request) => {
    const { vmId, overheadBudgetPct: askedBudgetPct, ...overrides } = request.query;
    let overheadBudgetPct = askedBudgetPct ?? defaultOverheadBudgetPct;
    const sourced = Object.fromEntries(
      Object.entries(defaultAvailabilityParameters).map(([name, value]) => [name, { value, source: 'default' }]),
    ) as Sourced;

    if (vmId !== undefined) {
      if (!supervisor.has(vmId)) throw new EngineError('not-found', `no VM with id ${vmId}`);
      // What the VM runs with now, what its epochs and rollbacks measured
      // (write rate, checkpoint cost, rollback time), what its detectors made
      // of the faults injected into it (coverage, latency), and the error
      // rate its settings plan for.
      const { settings } = await supervisor.view(vmId);
      sourced.errorRatePerHour = { value: settings.errorRatePerHour, source: 'configured' };
      // The budget auto-tune keeps, unless the question names another.
      overheadBudgetPct = askedBudgetPct ?? settings.overheadBudgetPct;
      sourced.intervalMs = { value: settings.intervalMs, source: 'measured' };
      sourced.retention = { value: settings.retention, source: 'measured' };
      // Until its detections say which detectors catch its errors, the slowest one's bound: what a 'safe' rollback goes past.
      const bounds = detectorBoundsMs(settings, progressSampleMs);
      sourced.latencyBoundMs = { value: Math.max(...Object.values(bounds)), source: 'configured' };
      const measurements = measurementsOf(store, vmId);
      const measured = parametersFromMeasurements(measurements);
      for (const name of ['rollbackMs', 'dirtyPagesPerSecond', 'checkpointOverheadMs', 'copyUsPerPage'] as const) {
        const value = measured[name];
        if (value !== undefined) sourced[name] = { value, source: 'measured' };
      }
      if (measured.workingSetPagesAtLeast !== undefined) {
        const covering = workingSetCovering(sourced.workingSetPages.value, measured.workingSetPagesAtLeast);
        if (covering !== sourced.workingSetPages.value) sourced.workingSetPages = { value: covering, source: 'measured' };
        const rate = writeRateWithin(measurements.windows, covering);
        if (rate !== undefined) sourced.dirtyPagesPerSecond = { value: rate, source: 'measured' };
      }
      // Past the recurrence window, which the agent requires to exceed every detector's bound, no alert will come for a fault.
      const detection = detectionFromInjections(injectionsOf(store, vmId, bounds), Date.now(), settings.recurrenceWindowMs);
      for (const [name, value] of Object.entries(detection) as [keyof typeof detection, number][]) {
        sourced[name] = { value, source: 'measured' };
      }
    }
    for (const [name, value] of Object.entries(overrides) as [keyof AvailabilityParameters, number | undefined][]) {
      if (value !== undefined) sourced[name] = { value, source: 'override' };
    }

    const parameters = Object.fromEntries(Object.entries(sourced).map(([name, { value }]) => [name, value])) as unknown as AvailabilityParameters;
    const analysis = analyse(parameters, overheadBudgetPct);
    return {
      availability: analysis.availability,
      unprotectedAvailability: analysis.unprotectedAvailability,
      downtimeSecondsPerYear: analysis.downtimeSecondsPerYear,
      overheadPct: analysis.overheadPct,
      overheadBudgetPct,
      recommendedIntervalMs: analysis.recommendedIntervalMs,
      recommendedAvailability: analysis.recommendedAvailability,
      curve: analysis.curve,
      states: analysis.occupancy,
      parameters: sourced,
    };
  });
};

/** The schema already bounds every parameter; a combination the model still refuses is bad input too. */
function analyse(parameters: AvailabilityParameters, overheadBudgetPct: number) {
  try {
    return analyseAvailability(parameters, overheadBudgetPct);
  } catch (error) {
    if (error instanceof RangeError) throw new EngineError('invalid-argument', error.message);
    throw error;
  }
}

function measurementsOf(store: Store, vmId: string): Measurements {
  const windows = store.queryEvents({ vmId, types: ['checkpoint-summary'], limit: summariesUsed }).flatMap((event) =>
    event.type === 'checkpoint-summary' ? [event] : [],
  );
  const rollbackDurationsUs = store
    .queryEvents({ vmId, types: ['rollback'], limit: rollbacksUsed })
    .flatMap((event) => (event.type === 'rollback' && event.ok && event.durationUs !== undefined ? [event.durationUs] : []));
  return { windows, rollbackDurationsUs };
}

/** Every fault injected into the VM as its newest event tells it (injections are events each time their outcome changes). */
function injectionsOf(store: Store, vmId: string, boundsMs: Partial<Record<string, number>>): ObservedInjection[] {
  const newest = new Map<string, ObservedInjection>();
  for (const event of store.queryEvents({ vmId, types: ['fault'], limit: faultEventsUsed })) {
    if (event.type !== 'fault' || newest.has(event.injection.id)) continue;
    const { time, request, status, detection } = event.injection;
    const bound = detection ? boundsMs[detection.detector] : undefined;
    newest.set(event.injection.id, {
      time, kind: request.kind, status,
      ...(detection && { detectionLatencyMs: detection.latencyMs }),
      ...(bound !== undefined && { latencyBoundMs: bound }),
    });
  }
  return [...newest.values()];
}
