import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { up } from '@cdc-cache/local-stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  markdownAnchors,
  PROMETHEUS_DIR,
  PROMETHEUS_URL,
  promtool,
  REPO,
  SERVICES,
} from './deploy-helpers.js';

const RULES = join(PROMETHEUS_DIR, 'rules', 'cdc-cache.yml');
const RULE_TESTS = join(PROMETHEUS_DIR, 'rules', 'cdc-cache.test.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: {
      alertname: string;
      eval_time: string;
      exp_alerts?: { exp_labels?: Record<string, string> }[];
    }[];
  }[];
}

const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule): rule is Rule & { alert: string } => rule.alert !== undefined);
const alertNames = [...new Set(alerts.map((rule) => rule.alert))];
const ruleTests = parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTests;

describe('the alert and recording rules (deploy/prometheus/rules)', () => {
  it('pass `promtool check rules`', () => {
    const result = promtool(['check', 'rules', RULES]);
    expect(result.status, result.output).toBe(0);
  });

  it('pass their unit tests (`promtool test rules cdc-cache.test.yml`)', () => {
    const result = promtool(['test', 'rules', RULE_TESTS]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('cover the alerts the runbook promises', () => {
    expect(alertNames.sort()).toEqual(
      [
        'CdcCacheConsumerLag',
        'CdcCacheDeadLetters',
        'CdcCacheEndToEndLatencyHigh',
        'CdcCacheNoActiveWorker',
        'CdcCacheReplicationLagBytes',
        'CdcCacheReplicationLagSeconds',
        'CdcCacheServiceDown',
        'CdcCacheSinkDown',
        'CdcCacheSlotInactive',
        'CdcCacheSlotRetainedWal',
        'CdcCacheStreamRestarts',
      ].sort(),
    );
  });

  it('have, for every alert, a unit test where it fires (at each severity) and one where it stays quiet', () => {
    const cases = ruleTests.tests.flatMap((test) => test.alert_rule_test ?? []);
    const problems: string[] = [];
    for (const name of alertNames) {
      const mine = cases.filter((c) => c.alertname === name);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0))
        problems.push(`${name}: no case where it fires`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) problems.push(`${name}: no quiet case`);
      const severities = new Set(alerts.filter((a) => a.alert === name).map((a) => a.labels?.severity));
      const fired = new Set(mine.flatMap((c) => (c.exp_alerts ?? []).map((a) => a.exp_labels?.severity)));
      for (const severity of severities) {
        if (!fired.has(severity)) problems.push(`${name}: no case where the ${severity} alert fires`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('label every alert with a severity and give it a summary, a description and a runbook section that exists', () => {
    const anchors = markdownAnchors(readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8'));
    const problems: string[] = [];
    for (const rule of alerts) {
      const where = `${rule.alert} (${rule.labels?.severity})`;
      if (!['warning', 'critical'].includes(rule.labels?.severity ?? '')) problems.push(`${where}: severity`);
      if (!rule.annotations?.summary) problems.push(`${where}: no summary`);
      if (!rule.annotations?.description) problems.push(`${where}: no description`);
      const runbook = /^docs\/operations\.md#(.+)$/.exec(rule.annotations?.runbook_url ?? '');
      if (!runbook) problems.push(`${where}: runbook_url is not docs/operations.md#<anchor>`);
      else if (!anchors.has(runbook[1]!)) problems.push(`${where}: docs/operations.md has no #${runbook[1]}`);
      else if (runbook[1] !== rule.alert.toLowerCase())
        problems.push(`${where}: anchor is not the alert's name`);
    }
    expect(problems).toEqual([]);
  });

  it('name recording rules level:metric:operation', () => {
    for (const rule of rules.filter((r) => r.record !== undefined)) {
      expect(rule.record).toMatch(/^[a-z_]+:cdc_cache_[a-z_]+:[a-z0-9_]+$/);
    }
  });
});

describe('prometheus.yml', () => {
  const config = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    global: { scrape_interval: string };
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };

  it('passes `promtool check config` from a copy of deploy/prometheus, as the local stack runs it', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'cdc-cache-prometheus-')), 'prometheus');
    cpSync(PROMETHEUS_DIR, copy, { recursive: true });
    const result = promtool(['check', 'config', join(copy, 'prometheus.yml')]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('scrapes Prometheus and the four services every 5s on their default ports', () => {
    expect(config.global.scrape_interval).toBe('5s');
    const jobs = Object.fromEntries(
      config.scrape_configs.map((job) => [job.job_name, job.static_configs.flatMap((s) => s.targets)]),
    );
    expect(jobs.prometheus).toEqual(['127.0.0.1:19090']);
    for (const service of SERVICES) expect(jobs[service.name]).toEqual([`127.0.0.1:${service.port}`]);
  });

  it('loads the rule file by name, so the unit tests beside it are never read as rules', () => {
    expect(config.rule_files).toEqual(['rules/cdc-cache.yml']);
  });
});

describe('the running Prometheus of the local stack', () => {
  beforeAll(async () => {
    // Copies deploy/prometheus into the stack's state folder and reloads Prometheus if it changed.
    await up({ only: ['prometheus'], log: () => undefined });
  });

  it('has loaded every rule of deploy/prometheus/rules/cdc-cache.yml', async () => {
    const response = await fetch(`${PROMETHEUS_URL}/api/v1/rules`);
    const body = (await response.json()) as {
      data: { groups: { name: string; rules: { name: string }[] }[] };
    };
    const loaded = body.data.groups.filter((group) => groups.some((g) => g.name === group.name));
    expect(loaded.map((group) => group.name).sort()).toEqual(groups.map((group) => group.name).sort());
    const names = loaded.flatMap((group) => group.rules.map((rule) => rule.name));
    expect(names.sort()).toEqual(rules.map((rule) => rule.alert ?? rule.record).sort());
  });

  it('has a scrape pool for every job of prometheus.yml', async () => {
    const response = await fetch(`${PROMETHEUS_URL}/api/v1/targets`);
    const body = (await response.json()) as { data: { activeTargets: { scrapePool: string }[] } };
    const pools = new Set(body.data.activeTargets.map((target) => target.scrapePool));
    for (const job of ['prometheus', ...SERVICES.map((s) => s.name)]) expect(pools).toContain(job);
  });
});
