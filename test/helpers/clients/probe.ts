// What got installed, asked of Python itself: import each module and report its __version__,
// its KIND (wheel / sdist / egg: how the fixture file was built, see matrix-fixture.ts), the
// CORE_VERSION a dependent module saw, and the file it was imported from.
import { realpathSync } from 'node:fs'
import { describeResult, runCommand, type CommandResult } from './process.js'

// Valid Python 2.7 and 3.
const PROBE = `import json, sys
res = {}
for name in sys.argv[1:]:
    try:
        mod = __import__(name)
        res[name] = {'version': getattr(mod, '__version__', None), 'kind': getattr(mod, 'KIND', None),
                     'core': getattr(mod, 'CORE_VERSION', None), 'file': getattr(mod, '__file__', None)}
    except Exception as e:
        res[name] = {'error': '%s: %s' % (type(e).__name__, e)}
sys.stdout.write('PROBE' + json.dumps(res) + '\\n')
`

/** One imported module, as Python saw it. */
export interface ModuleFacts {
  readonly version?: string | null
  readonly kind?: string | null
  readonly core?: string | null
  readonly file?: string | null
  readonly error?: string
}

/** What a module must look like. */
export interface ModuleExpectation {
  readonly version: string
  /** How the installed copy was built; omit to accept any. */
  readonly kind?: 'wheel' | 'sdist' | 'egg'
  /** The mx_core version the module saw at import time (Mx.Mixed_Name). */
  readonly core?: string
  /** A substring the module's file path must contain (e.g. the egg's name). */
  readonly fileIncludes?: string
}

/** How to run Python for the probe: the interpreter (or a wrapper such as `pdm run python`) and its environment. */
export interface ProbeRunner {
  readonly file: string
  readonly args: readonly string[]
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  readonly timeoutMs: number
}

/**
 * Import `expected`'s modules and compare. Returns a list of problems (empty when all is as
 * expected): a module that does not import, comes from outside `root` (so not from this
 * run's install), or has another version, kind or core version.
 */
export async function probeModules(
  runner: ProbeRunner,
  root: string,
  expected: Readonly<Record<string, ModuleExpectation>>,
): Promise<{ problems: string[]; facts: Record<string, ModuleFacts>; result: CommandResult }> {
  const names = Object.keys(expected)
  const result = await runCommand(runner.file, [...runner.args, '-c', PROBE, ...names], {
    env: runner.env,
    cwd: runner.cwd,
    timeoutMs: runner.timeoutMs,
  })
  const line = /^PROBE(\{.*\})\s*$/m.exec(result.stdout)?.[1]
  if (line === undefined)
    return { problems: [`the import probe failed:\n${describeResult(result)}`], facts: {}, result }
  const facts = JSON.parse(line) as Record<string, ModuleFacts>
  const problems: string[] = []
  const realRoot = realpathSync(root)
  for (const [name, want] of Object.entries(expected)) {
    const got = facts[name]
    if (got === undefined || got.error !== undefined) {
      problems.push(`${name} does not import (${got?.error ?? 'no result'})`)
      continue
    }
    const file = got.file ?? ''
    let realFile = file
    try {
      realFile = realpathSync(file)
    } catch {
      /* an egg member path does not exist on disk */
    }
    if (!realFile.startsWith(realRoot) && !file.startsWith(root))
      problems.push(`${name} imported from ${file}, outside this run's install ${root}`)
    if (got.version !== want.version)
      problems.push(`${name} is version ${String(got.version)}, expected ${want.version}`)
    if (want.kind !== undefined && got.kind !== want.kind)
      problems.push(`${name} ${String(got.version)} was built from a ${String(got.kind)}, expected a ${want.kind}`)
    if (want.core !== undefined && got.core !== want.core)
      problems.push(`${name} saw mx_core ${String(got.core)}, expected ${want.core}`)
    if (want.fileIncludes !== undefined && !file.includes(want.fileIncludes))
      problems.push(`${name} imported from ${file}, expected a path containing ${want.fileIncludes}`)
  }
  return { problems, facts, result }
}

/** "mx_core 1.1 (wheel), …": what a passed probe confirmed, for the results. */
export function describeExpected(expected: Readonly<Record<string, ModuleExpectation>>): string {
  return Object.entries(expected)
    .map(([name, want]) => `${name} ${want.version}${want.kind === undefined ? '' : ` (${want.kind})`}`)
    .join(', ')
}
