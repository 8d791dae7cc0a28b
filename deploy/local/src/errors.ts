import type { ServerName } from './ports.js';

/** Every failure of the stack: one clear message saying what failed, where, and what to do. */
export class StackError extends Error {
  readonly server: ServerName | undefined;

  constructor(message: string, server?: ServerName, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StackError';
    this.server = server;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
