import fs from 'node:fs';
import path from 'node:path';

/**
 * The Node options the image runs the gateway with, its heap sizing (README, Memory): the Dockerfile's
 * `ENV NODE_OPTIONS="…"` line, read rather than repeated so the bench measures what ships.
 */
export function imageNodeOptions(repoRoot: string): string {
  const found = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
  if (!found) throw new Error('The Dockerfile no longer sets NODE_OPTIONS on a line of its own: update bench/image-node-options.ts');
  return found[1];
}
