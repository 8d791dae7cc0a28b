import type { ServerStatus } from '@cdc-cache/local-stack';

/** A compact aligned table, one server a line; a server that is down in red when writing to a terminal. */
export function formatServerTable(
  servers: ServerStatus[],
  useColour = process.stdout.isTTY === true,
): string {
  const red = (text: string) => (useColour ? `\x1b[31m${text}\x1b[0m` : text);
  const rows = servers.map((server) => [
    server.name,
    String(server.port),
    server.pid === null ? '-' : String(server.pid),
    server.version ?? '-',
    server.healthy ? 'healthy' : 'DOWN',
    server.detail,
  ]);
  const header = ['SERVER', 'PORT', 'PID', 'VERSION', 'HEALTH', 'DETAIL'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  const body = rows.map((row, index) => {
    const text = line(row);
    return servers[index]!.healthy ? text : red(text);
  });
  return `${[line(header), ...body].join('\n')}\n`;
}
