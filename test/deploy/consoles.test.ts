import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { up } from '@cdc-cache/local-stack';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkPromqlOffline,
  PANEL_TITLES,
  PROMETHEUS_DIR,
  PROMETHEUS_URL,
  queryPrometheus,
} from './deploy-helpers.js';

const SOURCE = readFileSync(join(PROMETHEUS_DIR, 'consoles', 'cdc-cache.html'), 'utf8');

/** The PromQL of the page: graph expressions, drill-downs and the queries the template runs. */
function pageExpressions(source: string): string[] {
  const exprs: string[] = [];
  // A list of expressions closes on a line of its own (`]` also ends range selectors such as [1m]).
  for (const match of source.matchAll(/expr:\s*(\[[\s\S]*?\n\s*\]|"[^"]*")/g)) {
    const literal = match[1]!.replace(/,\s*\]$/, ']');
    const value = JSON.parse(literal) as string | string[];
    exprs.push(...(Array.isArray(value) ? value : [value]));
  }
  for (const match of source.matchAll(/\(args "([^"]+)"/g)) exprs.push(match[1]!);
  for (const match of source.matchAll(/\bquery "([^"]+)"/g)) exprs.push(match[1]!);
  return [...new Set(exprs)];
}

describe('the console page deploy/prometheus/consoles/cdc-cache.html', () => {
  const exprs = pageExpressions(SOURCE);

  it('has every panel of the pipeline overview, and PromQL that parses', () => {
    for (const title of PANEL_TITLES) expect(SOURCE).toContain(title);
    expect(exprs.length).toBeGreaterThan(20);
    const result = checkPromqlOffline(exprs);
    expect(result.status, result.output).toBe(0);
  });

  describe('served by the local stack', () => {
    let status = 0;
    let contentType = '';
    let page = '';

    beforeAll(async () => {
      // `up` copies deploy/prometheus (consoles included) into the state folder and reloads.
      await up({ only: ['prometheus'], log: () => undefined });
      const response = await fetch(`${PROMETHEUS_URL}/consoles/cdc-cache.html`);
      status = response.status;
      contentType = response.headers.get('content-type') ?? '';
      page = await response.text();
    });

    it('renders: HTTP 200, HTML, no template error', () => {
      expect(status, page.slice(0, 2000)).toBe(200);
      expect(contentType).toMatch(/text\/html/);
      expect(page).not.toMatch(/error executing template|template: |<no value>|ZgotmplZ/);
      expect(page).toMatch(/<\/html>\s*$/);
    });

    it('shows every panel title and the standard console furniture (navbar, time control)', () => {
      for (const title of PANEL_TITLES) expect(page).toContain(title);
      expect(page).toContain('prom_graph_timecontrol');
      expect(page).toContain('/classic/static/js/prom_console.js');
      expect(page.match(/new PromConsole\.Graph\(/g)?.length).toBe(9);
    });

    it('lists the four services in the services-up table', () => {
      for (const job of ['cdc-worker', 'cache-invalidator', 'search-indexer', 'read-api']) {
        expect(page).toContain(`<td>${job}</td>`);
      }
    });

    it('queries nothing the running Prometheus rejects', async () => {
      const rejected: string[] = [];
      for (const expr of exprs) {
        const reply = await queryPrometheus(expr);
        if (reply.status !== 'success') rejected.push(`${expr}: HTTP ${reply.httpStatus} ${reply.error}`);
      }
      expect(rejected).toEqual([]);
    });
  });
});
