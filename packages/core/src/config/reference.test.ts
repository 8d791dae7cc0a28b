import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, renderConfigJsonSchema, renderConfigMarkdown } from './reference.js';

const docs = (name: string): string => fileURLToPath(new URL(`../../../../docs/${name}`, import.meta.url));

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

type Node = { properties?: Record<string, Node>; items?: Node; description?: string };

function undescribed(node: Node, path: string, out: string[]): string[] {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const childPath = path === '' ? name : `${path}.${name}`;
    if (!child.description) out.push(childPath);
    undescribed(child, childPath, out);
  }
  if (node.items) undescribed(node.items, `${path}[]`, out);
  return out;
}

describe('generated configuration reference', () => {
  it('docs/config.schema.json is up to date (run npm run schema)', () => {
    const onDisk = readOrEmpty(docs('config.schema.json'));
    expect(
      onDisk === renderConfigJsonSchema(),
      'docs/config.schema.json is out of date: run npm run schema',
    ).toBe(true);
  });

  it('docs/config.md is up to date (run npm run schema)', () => {
    const onDisk = readOrEmpty(docs('config.md'));
    expect(onDisk === renderConfigMarkdown(), 'docs/config.md is out of date: run npm run schema').toBe(true);
  });

  it('describes every option', () => {
    expect(undescribed(configJsonSchema() as Node, '', [])).toEqual([]);
  });

  it('documents every option with its environment variable', () => {
    const markdown = renderConfigMarkdown();
    for (const option of [
      'source.postgres.url',
      'rules[].keys[].ttl',
      'services.readApi.port',
      'kafka.sasl.password',
    ]) {
      expect(markdown).toContain(`### \`${option}\``);
    }
    expect(markdown).toContain('`CDC_CACHE__RULES__<i>__KEYS__<i>__TTL`');
    expect(markdown).toContain('`CDC_CACHE__SERVICES__READ_API__PORT`');
  });
});
