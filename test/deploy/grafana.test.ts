import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPromqlOffline, DEPLOY, PANEL_TITLES, queryPrometheus } from './deploy-helpers.js';

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}

/** Grafana's reference to the dashboard's `datasource` variable (a literal, not a JS template). */
const DATASOURCE_UID = `$${'{'}datasource}`;

const TEXT = readFileSync(join(DEPLOY, 'grafana', 'cdc-cache.json'), 'utf8');

/** Grafana's interval variables, replaced as Grafana would before the query reaches Prometheus. */
function withGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m');
}

describe('the Grafana dashboard deploy/grafana/cdc-cache.json', () => {
  const dashboard = JSON.parse(TEXT) as Dashboard;
  const targets = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ panel, target: t })),
  );

  it('is a dashboard of schema ~39 with a uid and a Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
  });

  it('has the panels of the console page, each once', () => {
    expect(dashboard.panels.map((panel) => panel.title).sort()).toEqual([...PANEL_TITLES].sort());
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
  });

  it('gives every panel and every target the datasource variable, and every target an expr', () => {
    const problems: string[] = [];
    for (const panel of dashboard.panels) {
      if (panel.datasource?.type !== 'prometheus' || panel.datasource.uid !== DATASOURCE_UID) {
        problems.push(`${panel.title}: panel datasource ${JSON.stringify(panel.datasource)}`);
      }
      if (!panel.targets?.length) problems.push(`${panel.title}: no targets`);
      const refIds = new Set<string>();
      for (const target of panel.targets ?? []) {
        if (!target.expr?.trim()) problems.push(`${panel.title}: a target without expr`);
        if (target.datasource?.uid !== DATASOURCE_UID) problems.push(`${panel.title}: target datasource`);
        if (!target.refId || refIds.has(target.refId)) problems.push(`${panel.title}: refId ${target.refId}`);
        refIds.add(target.refId ?? '');
      }
    }
    expect(problems).toEqual([]);
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${panel.title} overlaps at ${i},${j}`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
    }
  });

  it('has PromQL that promtool parses', () => {
    const result = checkPromqlOffline(targets.map(({ target }) => withGrafanaVariables(target.expr ?? '')));
    expect(result.status, result.output).toBe(0);
  });

  it('has PromQL the running Prometheus of the local stack accepts', async () => {
    const rejected: string[] = [];
    for (const { panel, target } of targets) {
      const reply = await queryPrometheus(withGrafanaVariables(target.expr ?? ''));
      if (reply.status !== 'success') rejected.push(`${panel.title} ${target.refId}: ${reply.error}`);
    }
    expect(rejected).toEqual([]);
  });
});
