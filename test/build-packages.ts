import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// Tests, workflow bundles and spawned workers load the workspace packages from their compiled
// `dist/`, as an installed copy would be loaded. An incremental build here keeps a single
// `npx vitest run <file>` true to a package's sources after an edit; it is a no-op when nothing changed.
export default function buildPackages(): void {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(root, 'packages')], { stdio: 'inherit' });
}
