// Reading poetry.lock / pdm.lock (TOML, through the system Python's tomllib) and comparing
// the hashes they recorded with the fixture's own digests.
import type { MatrixFixture } from '../matrix-fixture.js'
import { ensure } from './context.js'
import { describeResult, runCommand } from './process.js'

/** A TOML file as JSON, parsed by `python3` (tomllib: Python >= 3.11). */
export async function readToml(python3: string, path: string, timeoutMs: number): Promise<unknown> {
  const result = await runCommand(
    python3,
    ['-c', 'import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))', path],
    { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8' }, cwd: '/', timeoutMs },
  )
  if (result.code !== 0) throw new Error(`cannot parse ${path}:\n${describeResult(result)}`)
  return JSON.parse(result.stdout) as unknown
}

/**
 * `locked` maps "name version" to filename → sha256. Every locked release must list exactly
 * the fixture's files of that release, each with the fixture's sha256.
 */
export function compareLock(fixture: MatrixFixture, locked: ReadonlyMap<string, ReadonlyMap<string, string>>): string {
  ensure(locked.size > 0, 'the lock file lists no files')
  for (const [release, files] of locked) {
    const [name = '', version = ''] = release.split(' ')
    const want = new Map(
      fixture
        .release(name, version)
        .filter((file) => file.kind !== 'egg')
        .map((file) => [file.filename, file.sha256]),
    )
    ensure(want.size > 0, `the lock pins ${release}, which the fixture does not have`)
    const got = [...files]
      .sort()
      .map(([file, hash]) => `${file}=${hash}`)
      .join(', ')
    const expected = [...want]
      .sort()
      .map(([file, hash]) => `${file}=${hash}`)
      .join(', ')
    ensure(got === expected, `lock entry ${release}: ${got}\nexpected: ${expected}`)
  }
  return `${[...locked.keys()].sort().join(', ')}: every file hash equals the fixture's sha256`
}
