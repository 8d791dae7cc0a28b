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
  failed += report.numFailedTests ?? 0;
  // A skipped or todo test is a defect here, not a pass.
  failed += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A file that failed without a failing test (it did not load, a hook threw) counts once.
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) failed += 1;
  }
} else {
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
