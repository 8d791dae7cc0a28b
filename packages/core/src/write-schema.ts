import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigJsonSchema, renderConfigMarkdown } from './config/reference.js';

/**
 * `npm run schema`: writes docs/config.schema.json and docs/config.md from the config schema.
 * A test (config/reference.test.ts) fails when either is out of date.
 */
const CONFIG_SCHEMA_FILE = fileURLToPath(new URL('../../../docs/config.schema.json', import.meta.url));
const CONFIG_DOC_FILE = fileURLToPath(new URL('../../../docs/config.md', import.meta.url));

writeFileSync(CONFIG_SCHEMA_FILE, renderConfigJsonSchema());
writeFileSync(CONFIG_DOC_FILE, renderConfigMarkdown());
process.stdout.write(`wrote ${CONFIG_SCHEMA_FILE}\nwrote ${CONFIG_DOC_FILE}\n`);
