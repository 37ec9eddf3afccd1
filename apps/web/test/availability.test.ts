import { describe, expect, it } from 'vitest';
import { budgetProblem, fmtAvailability, fmtDowntime } from '../src/components/AvailabilityPanel.tsx';

describe('availability formatting', () => {
  it('shows enough digits to tell the nines apart', () => {
    expect(fmtAvailability(0.9901)).toBe('99.01 %');
    expect(fmtAvailability(0.99982)).toBe('99.982 %');
    expect(fmtAvailability(0.999991)).toBe('99.9991 %');
  });

  it('says downtime in the unit an operator would', () => {
    expect(fmtDowntime(30)).toBe('30 s/year');
    expect(fmtDowntime(5676)).toBe('95 min/year');
    expect(fmtDowntime(36_000)).toBe('10.0 h/year');
    expect(fmtDowntime(0.0099 * 365.25 * 86_400)).toBe('3.6 days/year');
  });

  it('explains a bad overhead budget', () => {
    expect(budgetProblem('3')).toBeNull();
    expect(budgetProblem('0.5')).toBeNull();
    expect(budgetProblem('')).toBe('Enter a number.');
    expect(budgetProblem('abc')).toBe('Enter a number.');
    // The range auto-tune accepts for a VM's budget.
    expect(budgetProblem('0')).toBe('Must be from 0.1 to 50 %.');
    expect(budgetProblem('0.05')).toBe('Must be from 0.1 to 50 %.');
    expect(budgetProblem('51')).toBe('Must be from 0.1 to 50 %.');
    expect(budgetProblem('0.1')).toBeNull();
    expect(budgetProblem('50')).toBeNull();
  });
});
