import { compileKeyTemplate, KeyTemplateError } from '../key-template.js';
import { formatPath, type Problem } from './problems.js';
import { type Config, STORE_NAMES } from './schema.js';

/** Memcached reads an expiry above 30 days as a Unix time, so a longer ttl would expire at once. */
export const MEMCACHED_MAX_RELATIVE_TTL = 30 * 24 * 3600;

/** Checks that span several fields; run on a configuration whose every field is valid. */
export function crossCheck(config: Config): Problem[] {
  const problems: Problem[] = [];
  const tables = config.source.postgres.tables;
  const listed = new Map<string, number>();

  tables.forEach((table, index) => {
    const first = listed.get(table);
    if (first !== undefined) {
      problems.push({
        path: ['source', 'postgres', 'tables', index],
        message: `${table} is listed twice (also at tables[${first}]); remove one`,
      });
    } else {
      listed.set(table, index);
    }
  });

  const configured = STORE_NAMES.filter((name) => config.stores[name] !== undefined);
  const ruleOf = new Map<string, number>();

  config.rules.forEach((rule, ruleIndex) => {
    const rulePath = ['rules', ruleIndex] as const;
    if (!listed.has(rule.table)) {
      problems.push({
        path: [...rulePath, 'table'],
        message: `${rule.table} is not in source.postgres.tables; add it there, or remove this rule`,
      });
    }
    const earlier = ruleOf.get(rule.table);
    if (earlier !== undefined) {
      problems.push({
        path: [...rulePath, 'table'],
        message: `${rule.table} already has a rule (rules[${earlier}]); move these keys into that rule`,
      });
    } else {
      ruleOf.set(rule.table, ruleIndex);
    }

    const seen = new Map<string, number>();
    rule.keys.forEach((keyRule, keyIndex) => {
      const keyPath = [...rulePath, 'keys', keyIndex] as const;
      const store = config.stores[keyRule.store];
      if (store === undefined) {
        const instead = configured.length > 0 ? `, or use ${configured.join(' or ')}` : '';
        problems.push({
          path: [...keyPath, 'store'],
          message: `store "${keyRule.store}" is not configured; add a stores.${keyRule.store} section${instead}`,
        });
      } else {
        try {
          compileKeyTemplate(keyRule.key, {
            store: keyRule.store,
            maxKeyBytes: store.maxKeyBytes,
            keyPrefix: store.keyPrefix,
          });
        } catch (error) {
          if (!(error instanceof KeyTemplateError)) throw error;
          problems.push({ path: [...keyPath, 'key'], message: error.message });
        }
      }
      const identity = `${keyRule.store}\u0000${keyRule.key}`;
      const duplicate = seen.get(identity);
      if (duplicate !== undefined) {
        problems.push({
          path: [...keyPath, 'key'],
          message: `${keyRule.key} in ${keyRule.store} is already listed at ${formatPath([...rulePath, 'keys', duplicate])}; remove one`,
        });
      } else {
        seen.set(identity, keyIndex);
      }
      if (keyRule.ttl !== undefined && keyRule.action !== 'refresh') {
        problems.push({
          path: [...keyPath, 'ttl'],
          message: `a ttl applies only to action refresh, and this key is evicted; remove ttl or set action: refresh`,
        });
      } else if (
        keyRule.ttl !== undefined &&
        keyRule.store === 'memcached' &&
        keyRule.ttl > MEMCACHED_MAX_RELATIVE_TTL
      ) {
        problems.push({
          path: [...keyPath, 'ttl'],
          message: `${keyRule.ttl} seconds is more than 30 days, which Memcached reads as a Unix time; use at most ${MEMCACHED_MAX_RELATIVE_TTL}`,
        });
      }
    });
  });

  const indexOf = new Map<string, number>();
  config.search?.indexes.forEach((entry, position) => {
    const path = ['search', 'indexes', position] as const;
    if (!listed.has(entry.table)) {
      problems.push({
        path: [...path, 'table'],
        message: `${entry.table} is not in source.postgres.tables; add it there, or remove this index`,
      });
    }
    const earlier = indexOf.get(entry.index);
    if (earlier !== undefined) {
      problems.push({
        path: [...path, 'index'],
        message: `index ${entry.index} is already fed by search.indexes[${earlier}]; give this one another name`,
      });
    } else {
      indexOf.set(entry.index, position);
    }
    const fields = new Map<string, number>();
    entry.fields.forEach((field, fieldIndex) => {
      const first = fields.get(field);
      if (first !== undefined) {
        problems.push({
          path: [...path, 'fields', fieldIndex],
          message: `${field} is listed twice (also at fields[${first}]); remove one`,
        });
      } else {
        fields.set(field, fieldIndex);
      }
    });
  });

  config.services.readApi.routes.forEach((route, position) => {
    const path = ['services', 'readApi', 'routes', position] as const;
    const rule = config.rules.find((candidate) => candidate.table === route.table);
    const keyRule = rule?.keys.find(
      (candidate) => candidate.key === route.key && candidate.store === route.store,
    );
    if (keyRule === undefined) {
      problems.push({
        path: [...path, 'key'],
        message: `${route.table} has no rule key ${route.key} in ${route.store}; name one of the keys under rules (table ${route.table})`,
      });
      return;
    }
    const segments = route.path.split('/');
    const placeholders = segments.filter((segment) => segment.includes('{') || segment.includes('}'));
    const columns = placeholders.map((segment) => /^\{([^{}/]+)\}$/.exec(segment)?.[1]);
    if (columns.some((column) => column === undefined)) {
      problems.push({
        path: [...path, 'path'],
        message: `${route.path}: a placeholder must be a whole path segment, such as /v1/users/{id}`,
      });
      return;
    }
    let keyColumns: readonly string[] = [];
    try {
      keyColumns = compileKeyTemplate(route.key, { store: route.store }).columns;
    } catch {
      return; // reported with the rule
    }
    const sorted = (list: readonly (string | undefined)[]) => [...list].sort().join(', ');
    if (sorted(columns) !== sorted(keyColumns) || new Set(columns).size !== columns.length) {
      problems.push({
        path: [...path, 'path'],
        message: `${route.path} names the columns (${sorted(columns)}) but ${route.key} needs (${sorted(keyColumns)}); use exactly the key's columns`,
      });
    }
  });

  const listeners: Array<{ name: string; host: string; port: number }> = [];
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '[::]';
  for (const [name, service] of Object.entries(config.services)) {
    // Port 0 asks the OS for a free port: never a clash.
    const clash = listeners.find(
      (other) =>
        service.port !== 0 &&
        other.port === service.port &&
        (other.host === service.host || wildcard(other.host) || wildcard(service.host)),
    );
    if (clash !== undefined) {
      problems.push({
        path: ['services', name, 'port'],
        message: `port ${service.port} is already used by services.${clash.name}; give each service its own port`,
      });
    }
    listeners.push({ name, host: service.host, port: service.port });
  }
  return problems;
}
