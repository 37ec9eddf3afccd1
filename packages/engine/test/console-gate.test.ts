// The console is the guest's to write: what reaches the operator is bounded
// in rate and length and stripped of control characters.
import { describe, expect, it } from 'vitest';
import { ConsoleGate, maxConsoleLineChars } from '../src/index.js';

describe('console gate', () => {
  it('lets a burst through, then the steady rate, and says how many lines it dropped', () => {
    const gate = new ConsoleGate({ linesPerSecond: 10, burst: 5 }, 0);
    const admitted = Array.from({ length: 20 }, (_, i) => gate.admit(`line ${i}`, 0));
    expect(admitted.filter((line) => line !== null)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    // A second later, ten more lines' worth of allowance (capped at the burst).
    expect(gate.admit('after', 1000)).toBe('[15 console lines dropped: the guest wrote more than 10 a second] after');
    expect(gate.admit('next', 1000)).toBe('next');
  });

  it('cuts long lines and strips control characters but keeps tabs', () => {
    const gate = new ConsoleGate();
    expect(gate.admit('a\u0007b\u001b[31mc\td\u007f')).toBe('ab[31mc\td');
    const long = gate.admit('x'.repeat(100_000))!;
    expect(long.length).toBe(maxConsoleLineChars + 1);
    expect(long.endsWith('…')).toBe(true);
  });
});
