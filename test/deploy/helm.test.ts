import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@cdc-cache/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEPLOY, SERVICES } from './deploy-helpers.js';
import { ChartRenderer, renderChart, TemplateError } from './helm-template.js';

const CHART = join(DEPLOY, 'helm', 'cdc-cache');
const RELEASE = 'cdc';

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value: string }[];
  envFrom: { secretRef: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string }[];
}
interface Deployment {
  kind: 'Deployment';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { containers: Container[]; volumes: { name: string; configMap?: { name: string } }[] };
    };
  };
}
interface K8sObject {
  kind: string;
  apiVersion: string;
  metadata: { name: string };
  [key: string]: unknown;
}

const render = (values: Record<string, unknown> = {}) =>
  renderChart(CHART, { releaseName: RELEASE, values }).objects as K8sObject[];
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe('the Helm chart deploy/helm/cdc-cache', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
  const objects = render({ secrets: { CDC_CACHE__SOURCE__POSTGRES__PASSWORD: 'p@ss: #word' } });

  it('is a v2 application chart', () => {
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'cdc-cache', type: 'application' });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('renders a ConfigMap, a Secret, and a Deployment and a Service per service', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/cdc-config',
        'Secret/cdc-secrets',
        ...SERVICES.flatMap(({ name }) => [`Deployment/cdc-${name}`, `Service/cdc-${name}`]),
      ].sort(),
    );
    for (const object of objects) expect(object.apiVersion).toMatch(/^(v1|apps\/v1)$/);
  });

  for (const { name, configKey, port } of SERVICES) {
    describe(`the ${name} Deployment`, () => {
      const deployment = find(objects, 'Deployment', `cdc-${name}`) as unknown as Deployment;
      const pod = deployment.spec.template;
      const container = pod.spec.containers[0]!;

      it('runs the service from the image with the mounted config', () => {
        expect(pod.spec.containers).toHaveLength(1);
        expect(container.image).toBe(`cdc-cache:${chart.appVersion}`);
        expect(container.args).toEqual([
          `services/${name}/src/main.ts`,
          '--config',
          '/config/cdc-cache.yaml',
        ]);
        expect(container.volumeMounts).toContainEqual({
          name: 'config',
          mountPath: '/config',
          readOnly: true,
        });
        expect(pod.spec.volumes).toContainEqual({ name: 'config', configMap: { name: 'cdc-config' } });
      });

      it('takes the secrets from the Secret as environment variables', () => {
        expect(container.envFrom).toEqual([{ secretRef: { name: 'cdc-secrets' } }]);
      });

      it('listens on 0.0.0.0 on its port, with probes on /healthz and /readyz', () => {
        expect(container.ports).toEqual([{ name: 'http', containerPort: port, protocol: 'TCP' }]);
        expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
        expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
        // A standby cdc-worker answers 503 on /readyz by design; readiness must not hold rollouts.
        const readiness = name === 'cdc-worker' ? '/healthz' : '/readyz';
        expect(container.readinessProbe.httpGet).toEqual({ path: readiness, port: 'http' });
      });

      it('is scraped by Prometheus through pod annotations', () => {
        expect(pod.metadata.annotations).toMatchObject({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(port),
          'prometheus.io/path': '/metrics',
        });
        expect(pod.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      });

      it('selects its own pods, and its Service selects them too', () => {
        expect(pod.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
        expect(deployment.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(name);
        const service = find(objects, 'Service', `cdc-${name}`) as unknown as {
          spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
        };
        expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
        expect(service.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }]);
      });

      it('gets a config the config loader accepts, with its environment applied', () => {
        const configMap = find(objects, 'ConfigMap', 'cdc-config') as unknown as {
          data: Record<string, string>;
        };
        const secret = find(objects, 'Secret', 'cdc-secrets') as unknown as {
          stringData: Record<string, string>;
        };
        const env = {
          ...secret.stringData,
          ...Object.fromEntries(container.env.map((e) => [e.name, e.value])),
        };
        const config = parseConfig(configMap.data['cdc-cache.yaml']!, { env, fileName: 'cdc-cache.yaml' });
        expect(config.source.postgres.password).toBe('p@ss: #word');
        expect(config.services[configKey as keyof typeof config.services]).toMatchObject({
          host: '0.0.0.0',
          port,
        });
      });
    });
  }

  it('uses an existing Secret instead of rendering one', () => {
    const rendered = render({
      existingSecret: 'my-cdc-secrets',
      secrets: { CDC_CACHE__LOG__LEVEL: 'debug' },
    });
    expect(rendered.some((o) => o.kind === 'Secret')).toBe(false);
    const deployment = find(rendered, 'Deployment', 'cdc-read-api') as unknown as Deployment;
    expect(deployment.spec.template.spec.containers[0]!.envFrom).toEqual([
      { secretRef: { name: 'my-cdc-secrets' } },
    ]);
  });

  it('leaves out a disabled service and renders a PodMonitor on request', () => {
    const rendered = render({
      services: { searchIndexer: { enabled: false } },
      podMonitor: { enabled: true },
    });
    expect(find(rendered, 'Deployment', 'cdc-search-indexer')).toBeUndefined();
    expect(find(rendered, 'Service', 'cdc-search-indexer')).toBeUndefined();
    expect(find(rendered, 'PodMonitor', 'cdc')).toMatchObject({
      spec: {
        jobLabel: 'app.kubernetes.io/component',
        podMetricsEndpoints: [{ port: 'http', path: '/metrics' }],
      },
    });
  });

  it('is rendered with Go template semantics, and anything the renderer lacks fails the test', () => {
    const template = (source: string) => new ChartRenderer(new Map([['t', source]]));
    const source =
      '{{- range $k, $v := .m }}\n{{ $k }}={{ $v | quote }}{{- end }}\n{{ if not .x }}none{{ else }}x{{ end }}';
    expect(template(source).render('t', { m: { b: 2, a: 1 } })).toBe('\na="1"\nb="2"\nnone');
    expect(() => template('{{ lookup "v1" "Secret" "" "" }}').render('t', {})).toThrow(TemplateError);
    expect(() => template('{{ .Values.missing.key }}').render('t', { Values: {} })).toThrow(/nil pointer/);
    expect(() => template('{{ if .x }}never closed').render('t', {})).toThrow(TemplateError);
  });
});
