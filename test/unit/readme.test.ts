// The README stays true: its quick-start lines, its flag table and CI's command agree with the code.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { optionFlags } from '../../src/cli.js'
import { SETTINGS } from '../../src/config.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const ciRun = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string>; license: string }

function quickStart (): string[] {
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1))
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

await test('every npm script the README names exists', () => {
  for (const name of ['build', 'lint', 'test', 'test:quick', 'start', 'examples']) {
    assert.ok(pkg.scripts[name], name)
    assert.ok(readme.includes(`npm run ${name}`) || readme.includes(`npm ${name}`), `README mentions ${name}`)
  }
  assert.match(pkg.scripts.test ?? '', /test\/unit\/\*\.test\.ts test\/http\/\*\.test\.ts test\/e2e\/\*\.test\.ts/)
})

await test('the README documents every flag with its environment variable and default', () => {
  for (const setting of Object.values(SETTINGS)) {
    const row = readme.split('\n').find((line) => line.startsWith('| ') && line.includes(`\`${setting.env}\``))
    assert.ok(row, `no README row for ${setting.env}`)
    assert.ok(row.includes(setting.flag), `${setting.env} row names ${setting.flag}`)
    if (setting.defaultValue !== undefined && setting.defaultValue !== 'false') assert.ok(row.includes(`\`${setting.defaultValue}\``), `${setting.env} default`)
  }
})

await test('the license is MIT in package.json, LICENSE and the README alike', () => {
  assert.equal(pkg.license, 'MIT')
  const license = readFileSync(new URL('../../LICENSE', import.meta.url), 'utf8')
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 eggserve contributors\n/)
  const section = readme.slice(readme.indexOf('\n## License\n'))
  assert.match(section, /^\n## License\n\nMIT; see \[LICENSE\]\(LICENSE\)/)
})

await test('the README\'s flag table spells every flag as --help does, short options included', () => {
  for (const flags of optionFlags()) {
    // A table cell escapes the pipe of `<on|off>`.
    const cell = flags.replaceAll('|', '\\|')
    assert.ok(readme.split('\n').some((line) => line.startsWith(`| \`${cell}\` |`)), `no README row starting with \`${cell}\``)
  }
})
