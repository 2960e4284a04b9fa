// The README stays true: its quick-start lines, its flag table and CI's command agree with the code.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { main, optionFlags } from '../../src/cli.js'
import { SETTINGS } from '../../src/config.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const ciRun = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>
  license: string
}

function quickStart(): string[] {
  const section = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
  )
  return [...section.matchAll(/```sh\n([^\n]*)\n```/g)].map((m) => m[1] ?? '')
}

await test('the README starts with two one-line commands: serve the example, and test', () => {
  const lines = quickStart()
  assert.equal(lines.length, 2)
  assert.match(lines[0] ?? '', /npm ci && npm run build && npm start -- --eggdir examples\/eggs --port 31001/)
  assert.match(lines[1] ?? '', /npm test/)
})

await test('.ci/run runs the README test line verbatim, with CI=true, then the pass on the other Node majors', () => {
  const commands = ciRun.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
  assert.deepEqual(commands.slice(-2), [quickStart()[1], 'npm run test:node'])
  assert.match(ciRun, /^export CI=true$/m)
  assert.match(ciRun, /^set -euo pipefail$/m)
})

await test('every npm script the README and docs/development.md name exists', () => {
  const docs = readme + readFileSync(new URL('../../docs/development.md', import.meta.url), 'utf8')
  for (const name of [
    'build',
    'lint',
    'test',
    'test:quick',
    'test:node',
    'start',
    'examples',
    'compat',
    'bench',
    'bench:catalog',
    'screenshots',
  ]) {
    assert.ok(pkg.scripts[name], name)
    assert.ok(
      docs.includes(`npm run ${name}`) || docs.includes(`npm ${name}`),
      `README or docs/development.md mentions ${name}`,
    )
  }
  assert.match(pkg.scripts.test ?? '', /test\/unit\/\*\.test\.ts test\/http\/\*\.test\.ts test\/e2e\/\*\.test\.ts/)
})

/** The README flag table's row of an environment variable, split into its cells. */
function tableRow(env: string): string[] | undefined {
  const row = readme.split('\n').find((line) => line.startsWith('| ') && line.includes(`\`${env}\``))
  // Cells are split on pipes that a backslash does not escape (`<on\|off>`).
  return row
    ?.split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((cell) => cell.trim())
}

await test('the README documents every flag with its environment variable and the default SETTINGS states', () => {
  for (const setting of Object.values(SETTINGS)) {
    const cells = tableRow(setting.env)
    assert.ok(cells, `no README row for ${setting.env}`)
    const [flags = '', , fallback = ''] = cells
    assert.ok(flags.includes(setting.flag), `${setting.env} row names ${setting.flag}`)
    const stated: string | undefined = setting.defaultValue
    if (stated === 'false') assert.equal(fallback, 'off', `${setting.env} default`)
    else if (stated !== undefined)
      assert.ok(
        fallback.startsWith(`\`${stated}\``),
        `${setting.env} default: README says ${fallback}, SETTINGS ${stated}`,
      )
    // No default value: the README says what happens instead, e.g. "(stdout)", never a value.
    else assert.doesNotMatch(fallback, /^`[^`]*`$/, `${setting.env} has no default value`)
  }
})

await test('--help states the default of every flag as SETTINGS does, and none for those without one', async () => {
  let help = ''
  const code = await main(
    ['node', 'eggserve', '--help'],
    {},
    {
      out: (text) => {
        help += text
      },
      err: (text) => {
        help += text
      },
    },
  )
  assert.equal(code, 0)
  // Commander wraps lines at spaces.
  const flat = help.replace(/\s+/g, ' ')
  for (const setting of Object.values(SETTINGS)) {
    const stated: string | undefined = setting.defaultValue
    const expected = stated === undefined ? `(env ${setting.env})` : `(env ${setting.env}, default ${stated})`
    assert.ok(flat.includes(expected), `--help says ${expected}`)
  }
  assert.equal(
    flat.match(/, default /g)?.length,
    Object.values(SETTINGS).filter((setting) => setting.defaultValue !== undefined).length,
    'no other default stated',
  )
})

await test('the license is MIT in package.json, LICENSE and the README alike', () => {
  assert.equal(pkg.license, 'MIT')
  const license = readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8')
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 eggserve contributors\n/)
  const section = readme.slice(readme.indexOf('\n## License\n'))
  assert.match(section, /^\n## License\n\nMIT; see \[LICENSE\]\(LICENSE\)/)
})

await test("the README's flag table spells every flag as --help does, short options included", () => {
  for (const flags of optionFlags()) {
    // A table cell escapes the pipe of `<on|off>`.
    const cell = flags.replaceAll('|', '\\|')
    assert.ok(
      readme.split('\n').some((line) => line.startsWith(`| \`${cell}\` |`)),
      `no README row starting with \`${cell}\``,
    )
  }
})
