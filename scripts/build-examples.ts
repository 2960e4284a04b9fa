// Regenerates the example distributions shipped in examples/eggs/ (see "npm run examples").
// Usage: node --import tsx scripts/build-examples.ts [outdir]   (default: <repo>/examples/eggs)
// The output is deterministic, and test/unit/distributions.test.ts checks that the committed
// files equal a fresh build, so rerun this after changing the builders in test/helpers/.
import { realpathSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildEgg, buildSdist, buildWheel, writeDist, type DistSpec } from '../test/helpers/distributions.js'

/** The repository root, found from this file's location rather than the working directory. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Where the examples live unless told otherwise. */
export const DEFAULT_EXAMPLES_DIR = join(REPO_ROOT, 'examples', 'eggs')

/** The demo project: one release as a wheel, an sdist and a Python 3.7 egg. */
export const EGGDEMO: DistSpec = {
  name: 'eggdemo',
  version: '1.0',
  summary: 'A tiny demo project served by eggserve',
  requiresPython: '>=3.6',
  moduleSource: `"""eggdemo: a tiny demo project served by eggserve."""

__version__ = '1.0'


def hello(name='world'):
    """Print and return a greeting."""
    message = 'Hello, %s! This is eggdemo %s, installed from eggserve.' % (name, __version__)
    print(message)
    return message
`,
}

/**
 * Builds every example into `outDir` (one folder per project, as eggserve serves them)
 * and returns the written paths.
 */
export async function buildExamples(outDir: string = DEFAULT_EXAMPLES_DIR): Promise<string[]> {
  const dir = join(outDir, 'eggdemo')
  return Promise.all([
    writeDist(dir, buildWheel(EGGDEMO)),
    writeDist(dir, buildSdist(EGGDEMO)),
    writeDist(dir, buildEgg(EGGDEMO, { pyVersion: '3.7' })),
  ])
}

function isMain(): boolean {
  const script = process.argv[1]
  return script !== undefined && realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
}

if (isMain()) {
  const outArg = process.argv[2]
  const written = await buildExamples(outArg === undefined ? DEFAULT_EXAMPLES_DIR : resolve(outArg))
  for (const path of written) console.log(path)
}
