import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// npm 11 reads `allowScripts` in package.json (a package name, or name@version, mapped to true or
// false) and warns at every install about each dependency whose install script it does not cover; a
// later npm will refuse to run those scripts. Every package with an install script in the lock file is
// declared, so that a fresh install prints nothing a new user must wonder about. npm 10 ignores the
// field.

const root = resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, unknown> };
const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; link?: boolean }>;
};

/** Each dependency in the lock file that runs an install script, as `name@version`. */
const withInstallScripts = Object.entries(lock.packages)
  .filter(([path, entry]) => path.includes('node_modules/') && entry.hasInstallScript && !entry.link)
  .map(([path, entry]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`);

const declared = manifest.allowScripts ?? {};
const nameOf = (spec: string) => spec.slice(0, spec.lastIndexOf('@'));

describe('allowScripts in package.json', () => {
  it('finds the install scripts the lock file records (better-sqlite3 compiles one)', () => {
    expect(withInstallScripts.map(nameOf)).toContain('better-sqlite3');
  });

  it('declares every dependency that has an install script, by name or by name@version', () => {
    const uncovered = withInstallScripts.filter((spec) => !(spec in declared) && !(nameOf(spec) in declared));
    expect(uncovered).toEqual([]);
  });

  it('says true or false for each, and names only packages that are in the lock file with a script', () => {
    for (const value of Object.values(declared)) expect(typeof value).toBe('boolean');
    const known = new Set(withInstallScripts.flatMap((spec) => [spec, nameOf(spec)]));
    expect(Object.keys(declared).filter((key) => !known.has(key))).toEqual([]);
  });
});
