import type { ServerName } from './ports.js';

/** One row of `status`. */
export interface ServerStatus {
  name: ServerName;
  port: number;
  pid: number | null;
  version: string | null;
  healthy: boolean;
  detail: string;
}

/** The compact aligned table `status` prints. Pure, for the tests. */
export function formatStatusTable(rows: readonly ServerStatus[]): string {
  const table = [
    ['SERVER', 'PORT', 'PID', 'VERSION', 'HEALTH', 'DETAIL'],
    ...rows.map((r) => [
      r.name,
      String(r.port),
      r.pid === null ? '-' : String(r.pid),
      r.version ?? '-',
      r.healthy ? 'healthy' : 'DOWN',
      r.detail,
    ]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  return table
    .map((row) =>
      row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  '),
    )
    .join('\n');
}
