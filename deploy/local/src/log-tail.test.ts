import { describe, expect, it } from 'vitest';
import { lastLines } from './log-tail.js';
import { LOG_RUN_MARKER } from './process-control.js';

describe('lastLines', () => {
  const log = ['old 1', 'old 2', `${LOG_RUN_MARKER} starting redis`, 'new 1', 'new 2', ''].join('\n');

  it("shows only the last run's lines", () => {
    expect(lastLines(log, 20)).toEqual([`${LOG_RUN_MARKER} starting redis`, 'new 1', 'new 2']);
  });

  it('can show the whole tail and limits the count', () => {
    expect(lastLines(log, 4, false)).toEqual(['old 2', `${LOG_RUN_MARKER} starting redis`, 'new 1', 'new 2']);
    expect(lastLines(log, 1)).toEqual(['new 2']);
  });
});
