import {
  analyseAvailability,
  defaultAvailabilityParameters,
  defaultOverheadBudgetPct,
  EngineError,
  type AvailabilityParameters,
} from '@uckpt/engine';
import { errors } from '../schemas/common.js';
import { AvailabilityAnswer, AvailabilityQuery } from '../schemas/model.js';
import { typed, type Routes } from './context.js';

type ParameterSource = 'default' | 'override' | 'measured';
type Sourced = Record<keyof AvailabilityParameters, { value: number; source: ParameterSource }>;

export const modelRoutes: Routes = (app, { supervisor }) => {
  const api = typed(app);

  api.get('/api/model/availability', {
    schema: {
      tags: ['model'],
      summary: 'Availability of a protected VM from the Markov model: now, unprotected, over intervals, and the recommended interval',
      querystring: AvailabilityQuery,
      response: { 200: AvailabilityAnswer, ...errors(400, 401, 404) },
    },
  }, async (request) => {
    const { vmId, overheadBudgetPct = defaultOverheadBudgetPct, ...overrides } = request.query;
    const sourced = Object.fromEntries(
      Object.entries(defaultAvailabilityParameters).map(([name, value]) => [name, { value, source: 'default' }]),
    ) as Sourced;

    if (vmId !== undefined) {
      if (!supervisor.has(vmId)) throw new EngineError('not-found', `no VM with id ${vmId}`);
      // What the VM runs with now; its measured costs, error history and
      // detection latencies will join here as the engine reports them.
      const { settings } = await supervisor.view(vmId);
      sourced.intervalMs = { value: settings.intervalMs, source: 'measured' };
      sourced.retention = { value: settings.retention, source: 'measured' };
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
