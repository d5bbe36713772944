import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// npm 11 reads `allowScripts` in package.json (a package name, or name@version, mapped to true or
// false) and warns at every install about each dependency whose install script it does not cover; a
// later npm will refuse to run those scripts. Every package with an install script in the lock file is
// declared, so that a fresh install prints nothing a new user must wonder about. npm 10 ignores the
// field.

const root = resolve(__dirname, '..', '..');

interface Manifest {
  allowScripts?: Record<string, unknown>;
}
interface Lock {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; link?: boolean }>;
}

/** Each dependency in a lock file that runs an install script, as `name@version`. */
function withInstallScripts(lock: Lock): string[] {
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.includes('node_modules/') && entry.hasInstallScript && !entry.link)
    .map(([path, entry]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`);
}

const nameOf = (spec: string) => spec.slice(0, spec.lastIndexOf('@'));
const read = <T>(path: string): T => JSON.parse(readFileSync(resolve(root, path), 'utf8')) as T;

// The product's own install, and the benchmark's peers (bench/peers, installed on demand by
// `npm run bench -- --peers`), each with the package that has an install script for sure.
describe.each([
  { folder: '.', sure: 'better-sqlite3' },
  { folder: 'bench/peers', sure: '@scarf/scarf' },
])('allowScripts in $folder/package.json', ({ folder, sure }) => {
  const declared = read<Manifest>(`${folder}/package.json`).allowScripts ?? {};
  const scripts = withInstallScripts(read<Lock>(`${folder}/package-lock.json`));

  it(`finds the install scripts the lock file records (${sure} has one)`, () => {
    expect(scripts.map(nameOf)).toContain(sure);
  });

  it('declares every dependency that has an install script, by name or by name@version', () => {
    const uncovered = scripts.filter((spec) => !(spec in declared) && !(nameOf(spec) in declared));
    expect(uncovered).toEqual([]);
  });

  it('says true or false for each, and names only packages that are in the lock file with a script', () => {
    for (const value of Object.values(declared)) expect(typeof value).toBe('boolean');
    const known = new Set(scripts.flatMap((spec) => [spec, nameOf(spec)]));
    expect(Object.keys(declared).filter((key) => !known.has(key))).toEqual([]);
  });
});

it('refuses the peers\' usage-reporting script: nothing the benchmark needs runs in it', () => {
  expect(read<Manifest>('bench/peers/package.json').allowScripts).toEqual({ '@scarf/scarf': false });
});
