import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The Redis scripts, one file each in ./lua (`<name>-<numkeys>.lua`, KEYS and ARGV in its header,
 * shared pieces in ./lua/includes pulled in by `--- @include "<name>"`), as BullMQ keeps its
 * commands. Read once per process; ioredis sends each with EVALSHA and loads it on NOSCRIPT.
 */
export interface RedisScript {
  name: string;
  numberOfKeys: number;
  lua: string;
}

const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url));
const INCLUDE = /^--- @include "([A-Za-z0-9_-]+)"\s*$/gm;

let loaded: RedisScript[] | null = null;

export function redisScripts(): RedisScript[] {
  if (loaded !== null) return loaded;
  const scripts: RedisScript[] = [];
  for (const file of readdirSync(LUA_DIR).sort()) {
    const match = /^([A-Za-z]+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    scripts.push({
      name: match[1]!,
      numberOfKeys: Number(match[2]),
      lua: resolveIncludes(readFileSync(`${LUA_DIR}${file}`, 'utf8'), file),
    });
  }
  loaded = scripts;
  return scripts;
}

function resolveIncludes(source: string, file: string): string {
  return source.replace(INCLUDE, (_line, name: string) => {
    try {
      return readFileSync(`${LUA_DIR}includes/${name}.lua`, 'utf8');
    } catch {
      throw new Error(`${file}: include "${name}" not found in lua/includes`);
    }
  });
}
