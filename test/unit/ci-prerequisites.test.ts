// .ci/prerequisites names, in one message, every tool the tests need that the machine lacks;
// and its list keeps up with the tools the tests ask for.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { repoRoot } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { findExecutable } from '../helpers/tools.js'

const script = join(repoRoot, '.ci', 'prerequisites')
const PYTHONS = ['2.7', '3.6', '3.7', '3.11', '3.12', '3.13']

/** A PATH folder holding only the commands the script itself runs, plus `extra`. */
async function barePath(root: string, extra: readonly string[] = []): Promise<string> {
  const bin = join(root, 'bin')
  await mkdir(bin)
  for (const name of ['bash', 'sed', 'head', 'node', 'npm', 'tar', ...extra]) {
    const path = findExecutable(name)
    if (path === undefined) throw new Error(`${name} is needed to run this test`)
    await symlink(path, join(bin, name))
  }
  return bin
}

function runScript(path: string, versions: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(path, 'bash'), [script], {
    env: { PATH: path, HOME: '/nonexistent', EGGSERVE_PYENV_VERSIONS: versions, LC_ALL: 'C' },
    encoding: 'utf8',
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

await test('everything missing is named in one message, and the exit code is 1', async (t) => {
  const root = await tempDir(t, 'eggserve-prereq-')
  const versions = join(root, 'versions')
  await mkdir(versions)
  const result = runScript(await barePath(root), versions)
  assert.equal(result.status, 1, result.stderr)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines[0], 'The tests need these, and this machine does not have them:')
  const items = lines.filter((line) => line.startsWith('  - ')).map((line) => line.slice(4))
  for (const tool of ['python3', 'twine', 'htpasswd', 'systemd-analyze', 'unshare', 'setpriv', 'prlimit', 'script']) {
    assert.ok(items.includes(tool), `${tool} is named: ${result.stderr}`)
  }
  for (const version of PYTHONS)
    assert.ok(items.includes(`Python ${version} under ${versions} (pyenv install ${version})`), result.stderr)
  assert.match(lines.at(-1) ?? '', /^Debian packages: .*\(\.ci\/run installs them\)/)
})

await test("pyenv's Pythons are found as <versions>/<X.Y[.Z]>/bin/python", async (t) => {
  const root = await tempDir(t, 'eggserve-prereq-')
  const versions = join(root, 'versions')
  for (const version of PYTHONS.filter((v) => v !== '3.11')) {
    const bin = join(versions, version === '2.7' ? '2.7.18' : version, 'bin')
    await mkdir(bin, { recursive: true })
    await writeFile(join(bin, 'python'), '#!/bin/sh\n')
    await chmod(join(bin, 'python'), 0o755)
  }
  const result = runScript(await barePath(root), versions)
  const pythons = result.stderr.split('\n').filter((line) => line.startsWith('  - Python '))
  assert.deepEqual(pythons, [`  - Python 3.11 under ${versions} (pyenv install 3.11)`])
})

await test('the script checks every tool a test asks for with needTool()', async () => {
  const checked = await readFile(script, 'utf8')
  const asked = new Set<string>()
  for (const dir of ['test/unit', 'test/http', 'test/e2e', 'test/helpers', 'test/helpers/clients']) {
    for (const name of await readdir(join(repoRoot, dir))) {
      if (!name.endsWith('.ts')) continue
      const source = await readFile(join(repoRoot, dir, name), 'utf8')
      for (const match of source.matchAll(/needTool\(\w+, '([^']+)'/g)) if (match[1] !== undefined) asked.add(match[1])
      for (const match of source.matchAll(/systemExecutable\('([^']+)'\)/g))
        if (match[1] !== undefined) asked.add(match[1])
    }
  }
  assert.ok(asked.size >= 10, [...asked].join(' '))
  for (const tool of asked)
    assert.match(
      checked,
      new RegExp(`(^|[\\s(])${tool.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}([\\s;)]|$)`, 'm'),
      `.ci/prerequisites does not check ${tool}`,
    )
})
