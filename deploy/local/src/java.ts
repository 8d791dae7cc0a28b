import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.js';
import { commandExists } from './install.js';

/** The JVM the Kafka and Elasticsearch servers run on: JAVA_HOME, else the `java` on PATH. */
export function javaHome(): string {
  const fromEnv = process.env.JAVA_HOME;
  if (fromEnv && existsSync(path.join(fromEnv, 'bin', 'java'))) return fromEnv;
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) {
    const candidate = path.join(dir, 'java');
    if (dir && existsSync(candidate)) return path.dirname(path.dirname(realpathSync(candidate)));
  }
  throw new StackError(
    'no java found (Kafka and Elasticsearch need Java 17): apt-get install openjdk-17-jre-headless',
  );
}

/** The major version from `<home>/release` (JAVA_VERSION="17.0.15"). Pure on its input. */
export function javaMajorFromRelease(release: string): number | null {
  const version = /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
  if (!version) return null;
  const parts = version.split('.');
  const major = Number(parts[0] === '1' ? parts[1] : parts[0]);
  return Number.isInteger(major) ? major : null;
}

/** Kafka 4 brokers and Elasticsearch 8.19 both need Java 17 or newer. */
export function checkJava(): string {
  if (!commandExists('java') && !process.env.JAVA_HOME) javaHome(); // throws the install hint
  const home = javaHome();
  let major: number | null = null;
  try {
    major = javaMajorFromRelease(readFileSync(path.join(home, 'release'), 'utf8'));
  } catch {
    // no release file (unusual layout): let the JVM itself complain if it is too old
  }
  if (major !== null && major < 17) {
    throw new StackError(
      `java in ${home} is version ${major}; Kafka 4 and Elasticsearch 8.19 need 17 or newer (set JAVA_HOME)`,
    );
  }
  return home;
}
