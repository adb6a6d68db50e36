// What the browser benches (niivue/refresh.mjs, viewer/volume.mjs) write the same way: the
// repository root, the commit they ran at, a file's hash and the median of their runs.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** HEAD's short hash, `-dirty` where tracked files differ from it. */
export function treeCommit() {
  const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
  return `${git('rev-parse', '--short=12', 'HEAD')}${dirty ? '-dirty' : ''}`;
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The middle value (the upper one of an even count). */
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
