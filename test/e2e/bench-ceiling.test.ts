// The bench's ceiling server (scripts/bench/ceiling-server.ts through servers.ts' startCeiling):
// bare node:http in one process, or, for --workers N, in N processes under node:cluster on one
// port; it serves the static copies and leaves no process behind when stopped.
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCleanup } from '../../scripts/bench/cleanup.js'
import { startCeiling } from '../../scripts/bench/servers.js'
import { httpGet, repoRoot } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'

/** The pids of running processes whose command line names `marker`. */
async function processesNaming(marker: string): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.split('\0').includes(marker)) pids.push(Number(name))
  }
  return pids
}

for (const processes of [1, 2]) {
  await test(`the ceiling server in ${processes} process${processes > 1 ? 'es' : ''}: serves the page, stops clean`, async (t) => {
    const staticDir = await tempDir(t, 'eggserve-ceiling-')
    const page = '<!DOCTYPE html><title>p</title>\n'
    await writeFile(join(staticDir, 'project.html'), page)
    t.after(runCleanup)
    const ceiling = await startCeiling(staticDir, repoRoot, process.env, { processes })
    // A primary and its workers above 1 process; the one process alone otherwise.
    assert.equal((await processesNaming(staticDir)).length, processes === 1 ? 1 : processes + 1)
    for (let i = 0; i < 2 * processes; i++) {
      const answer = await httpGet(`${ceiling.url}/static/project.html`)
      assert.equal(answer.status, 200)
      assert.equal(answer.body.toString(), page)
      assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8')
    }
    assert.equal((await httpGet(`${ceiling.url}/static/absent.html`)).status, 404)
    await ceiling.stop()
    // The workers leave with their primary.
    for (let i = 0; i < 300 && (await processesNaming(staticDir)).length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepEqual(await processesNaming(staticDir), [])
  })
}
