// node .ci/node-supported.js [VERSION]: exit 0 when package.json's engines.node admits VERSION
// (default: this Node's), else print what is needed and exit 1. .ci/prerequisites runs it before
// `npm ci`, so it needs no package: it reads ranges of the form package.json keeps,
// "^20.19.0 || ^22.12.0 || >=24.0.0" (test/unit/node-versions.test.ts compares it with semver).
import { readFileSync } from 'node:fs'

const range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node
const version = (process.argv[2] ?? process.versions.node).replace(/^v/, '')

const parse = (text) => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (match === null) throw new Error(`cannot read the version "${text}"`)
  return match.slice(1).map(Number)
}
const compare = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

const have = parse(version)
const admitted = range
  .split('||')
  .map((part) => part.trim())
  .some((part) => {
    const caret = /^\^(.+)$/.exec(part)
    if (caret !== null) {
      const floor = parse(caret[1])
      return have[0] === floor[0] && compare(have, floor) >= 0
    }
    const atLeast = /^>=\s*(.+)$/.exec(part)
    if (atLeast !== null) return compare(have, parse(atLeast[1])) >= 0
    throw new Error(`package.json engines.node: cannot read "${part}" (only ^X.Y.Z and >=X.Y.Z parts)`)
  })
if (!admitted) {
  process.stdout.write(`Node.js ${range} (package.json engines.node; this is v${version})\n`)
  process.exitCode = 1
}
