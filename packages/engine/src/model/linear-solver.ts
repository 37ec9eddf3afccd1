// Dense linear algebra for the availability model: Gaussian elimination with
// partial pivoting, and the stationary distribution of a continuous-time
// Markov chain from its generator. The chains here have a handful of states,
// so a 40-line solver we can test exhaustively beats a numeric dependency.

/** Below this (relative to the largest entry of the matrix) a pivot counts as zero. */
const singularTolerance = 1e-13;

/** Solves A x = b; throws when A is singular. Neither argument is modified. */
export function solveLinearSystem(matrix: readonly (readonly number[])[], rhs: readonly number[]): number[] {
  const n = rhs.length;
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new RangeError(`expected a ${n}x${n} matrix for ${n} right-hand sides`);
  }
  // Augmented rows [A | b], eliminated in place.
  const rows = matrix.map((row, i) => [...row, rhs[i]!]);
  const scale = Math.max(...rows.flatMap((row) => row.slice(0, n).map(Math.abs)), 0);
  for (let column = 0; column < n; column++) {
    // The largest remaining entry as pivot keeps the multipliers at most 1 in size.
    let pivotRow = column;
    for (let r = column + 1; r < n; r++) {
      if (Math.abs(rows[r]![column]!) > Math.abs(rows[pivotRow]![column]!)) pivotRow = r;
    }
    const pivot = rows[pivotRow]![column]!;
    if (Math.abs(pivot) <= singularTolerance * scale || pivot === 0) {
      throw new RangeError(`singular matrix (no pivot in column ${column})`);
    }
    [rows[column], rows[pivotRow]] = [rows[pivotRow]!, rows[column]!];
    const pivotValues = rows[column]!;
    for (let r = column + 1; r < n; r++) {
      const row = rows[r]!;
      const factor = row[column]! / pivot;
      if (factor === 0) continue;
      for (let c = column; c <= n; c++) row[c]! -= factor * pivotValues[c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    const row = rows[r]!;
    let sum = row[n]!;
    for (let c = r + 1; c < n; c++) sum -= row[c]! * x[c]!;
    x[r] = sum / row[r]!;
  }
  return x;
}

/**
 * The stationary distribution p of an irreducible CTMC with generator Q
 * (rows sum to 0): p Q = 0 with sum(p) = 1. The balance equations are
 * linearly dependent, so the last one is replaced by the normalisation row.
 */
export function stationaryDistribution(generator: readonly (readonly number[])[]): number[] {
  const n = generator.length;
  const transposed = Array.from({ length: n }, (_, i) => generator.map((row) => row[i]!));
  transposed[n - 1] = new Array<number>(n).fill(1);
  const rhs = new Array<number>(n).fill(0);
  rhs[n - 1] = 1;
  return solveLinearSystem(transposed, rhs);
}
