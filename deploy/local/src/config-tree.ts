import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { RunAs } from './user.js';

/** A folder's files by relative path. */
export type Tree = Map<string, Buffer>;

export function readTree(dir: string): Tree {
  const files: Tree = new Map();
  if (!existsSync(dir)) return files;
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.set(child, readFileSync(path.join(dir, child)));
    }
  };
  walk('');
  return files;
}

export function mapTree(tree: Tree, transform: (rel: string, content: Buffer) => Buffer): Tree {
  return new Map([...tree].map(([rel, content]) => [rel, transform(rel, content)]));
}

export function treesEqual(a: Tree, b: Tree): boolean {
  if (a.size !== b.size) return false;
  for (const [rel, content] of a) {
    const other = b.get(rel);
    if (!other?.equals(content)) return false;
  }
  return true;
}

/** Write a tree into a fresh folder owned by the run-as user. */
export function writeTree(tree: Tree, dir: string, runAs: RunAs | undefined): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  for (const [rel, content] of tree) {
    const file = path.join(dir, rel);
    const parent = path.dirname(file);
    if (!existsSync(parent)) {
      mkdirSync(parent, { recursive: true });
      if (runAs) chownSync(parent, runAs.uid, runAs.gid);
    }
    writeFileSync(file, content);
    if (runAs) chownSync(file, runAs.uid, runAs.gid);
  }
}

/**
 * Swap a validated staging folder into place. Servers read their configuration from `dest`, so it
 * is replaced whole: never half old, half new.
 */
export function replaceDir(staged: string, dest: string): void {
  const old = `${dest}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(staged, dest);
  rmSync(old, { recursive: true, force: true });
}
