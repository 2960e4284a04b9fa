// The layer map of docs/architecture.md is enforced by lint (eslint.config.js, eslint.layers.js):
// these cases show that an import pointing up a floor is an error and one pointing down is not,
// and that the map written in docs/architecture.md is the one lint enforces.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import tseslint from 'typescript-eslint'
import { FLOORS, MAY_IMPORT } from '../../eslint.layers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// The probe files are not on disk, so the type-aware rules (which need them in the TypeScript
// project) are off for them; the layer rule needs only the import paths, which resolve to real files.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: [{ files: ['src/**/probe.ts'], ...tseslint.configs.disableTypeChecked }],
})

/** The layer errors ESLint reports for `code` written in the file `path`. */
async function layerErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` })
  return (result?.messages ?? [])
    .filter((message) => message.ruleId?.startsWith('boundaries/') === true)
    .map((message) => message.message)
}

await test('an import that points up a floor fails lint', async () => {
  const cases: [string, string][] = [
    ['src/core/probe.ts', "import { sendError } from '../http/replies.js'\nexport const probe = sendError\n"],
    [
      'src/storage/probe.ts',
      "import type { IndexService } from '../live-index/index-service.js'\nexport type Probe = IndexService\n",
    ],
    ['src/live-index/probe.ts', "import type { AppOptions } from '../app.js'\nexport type Probe = AppOptions\n"],
    ['src/upload/probe.ts', "import { createApp } from '../http/replies.js'\nexport const probe = createApp\n"],
  ]
  for (const [path, code] of cases) {
    const errors = await layerErrors(path, code)
    assert.equal(errors.length, 1, `${path}: ${errors.join('; ')}`)
    assert.match(errors[0] ?? '', /may not import .*point down only/)
  }
})

await test('an import that points down passes', async () => {
  assert.deepEqual(
    await layerErrors(
      'src/http/probe.ts',
      "import { YANK_SUFFIX } from '../core/yanking.js'\nexport const probe = YANK_SUFFIX\n",
    ),
    [],
  )
  assert.deepEqual(
    await layerErrors(
      'src/live-index/probe.ts',
      "import type { Storage } from '../storage/storage.js'\nexport type Probe = Storage\n",
    ),
    [],
  )
})

await test('a file outside every floor fails lint', async () => {
  const errors = await layerErrors('src/nowhere/probe.ts', 'export const probe = 1\n')
  assert.equal(errors.length, 1)
})

await test('docs/architecture.md states the map lint enforces', () => {
  const doc = readFileSync(`${ROOT}docs/architecture.md`, 'utf8')
  for (const [floor, patterns] of FLOORS) {
    const row = doc.split('\n').find((line) => line.startsWith(`| ${floor} |`))
    assert.ok(row !== undefined, `no row for ${floor}`)
    for (const pattern of patterns) assert.ok(row.includes(`\`${pattern}\``), `${floor}: ${pattern}`)
    const allowed = MAY_IMPORT[floor]
    assert.ok(allowed !== undefined, `MAY_IMPORT has no entry for ${floor}`)
    assert.ok(row.endsWith(`| ${allowed.length === 0 ? '(nothing)' : allowed.join(', ')} |`), `${floor}: ${row}`)
  }
})
