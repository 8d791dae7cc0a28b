// Prints the one line CI reads, 'N passed, N failed', from vitest's JSON report plus the
// static checks (lint, typecheck). A missing report counts as one failure, never as a pass.
import { existsSync, readFileSync } from 'node:fs';

const readJson = (path) => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined);
const report = readJson('reports/vitest.json');
const staticChecks = readJson('reports/static.json');
let passed = 0;
let failed = staticChecks?.failed ?? 1;
if (report) {
  passed += report.numPassedTests ?? 0;
  failed += (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  // A test that was skipped or left as todo is a defect here, not a pass.
  failed += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
} else {
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
