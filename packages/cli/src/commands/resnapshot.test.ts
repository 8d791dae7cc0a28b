import { describe, expect, it } from 'vitest';
import { progressLine } from './resnapshot.js';

describe('progressLine', () => {
  it('shows a bar, the percentage, rows done of estimated and the rate', () => {
    expect(progressLine('public.users', 'running', 52_000, 100_000, 6)).toBe(
      'public.users [##########----------]  52%  52,000/100,000 rows  8,667 rows/s  running',
    );
    expect(progressLine('public.empty', 'done', 0, 0, 1)).toBe(
      'public.empty [####################] 100%  0/0 rows  0 rows/s  done',
    );
  });
});
