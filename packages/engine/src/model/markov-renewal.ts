// The steady state of a Markov model whose states are held for a known mean
// time and then left with known probabilities (a semi-Markov process). Its
// long-run share of time per state depends only on those means and
// probabilities, so it equals that of the CTMC with rates probability / mean:
// a deterministic checkpoint interval and an Erlang detection latency enter
// exactly, without phase-expanding the chain.
import { solveLinearSystem } from './linear-solver.js';

export interface RenewalChain<State extends string> {
  states: readonly State[];
  /** Mean time in each state per visit (any unit; zero for instantaneous states). */
  meanSojourn: Record<State, number>;
  /** Where each state goes when left, with probabilities summing to 1. */
  next: Record<State, Partial<Record<State, number>>>;
}

export interface RenewalSteadyState<State extends string> {
  /** Long-run share of time in each state; sums to 1. */
  occupancy: Record<State, number>;
  /** Long-run visits per unit of time to each state. */
  visitRate: Record<State, number>;
}

/**
 * Solves for the visit rates v: v_s = sum_r v_r P(r -> s) for every state,
 * with one of these (linearly dependent) balance equations replaced by the
 * normalisation sum_s v_s * mean_s = 1. This is p Q = 0, sum(p) = 1 for the
 * generator Q = diag(1/mean)(P - I) written with v = p / mean, which keeps
 * instantaneous states (mean 0) finite. Occupancy is then v_s * mean_s.
 */
export function solveRenewalChain<State extends string>(chain: RenewalChain<State>): RenewalSteadyState<State> {
  const { states } = chain;
  const index = new Map(states.map((state, i) => [state, i]));
  const n = states.length;
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  states.forEach((from, r) => {
    let total = 0;
    for (const [to, probability] of Object.entries(chain.next[from]) as [State, number][]) {
      const column = index.get(to);
      if (column === undefined) throw new RangeError(`transition from ${from} to unknown state ${to}`);
      // Equation `column` collects the flow into state `column`.
      matrix[column]![r]! += probability;
      total += probability;
    }
    if (Math.abs(total - 1) > 1e-9) throw new RangeError(`transitions out of ${from} sum to ${total}, not 1`);
    matrix[r]![r]! -= 1;
  });
  matrix[n - 1] = states.map((state) => chain.meanSojourn[state]);
  const rhs = new Array<number>(n).fill(0);
  rhs[n - 1] = 1;
  const visits = solveLinearSystem(matrix, rhs);
  const visitRate = {} as Record<State, number>;
  const occupancy = {} as Record<State, number>;
  states.forEach((state, i) => {
    // Round-off can leave an unreachable state at -1e-20; it was never visited.
    visitRate[state] = Math.max(0, visits[i]!);
    occupancy[state] = visitRate[state] * chain.meanSojourn[state];
  });
  return { occupancy, visitRate };
}
