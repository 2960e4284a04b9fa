// Freshness at scale: drop a file into an existing project (written under a hidden temp name,
// then renamed, as an uploader would) and time until /simple/<project>/ lists it; likewise a new
// project folder in /simple/. Every path created is journaled first and removed afterwards.
import { appendFile, copyFile, mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { getOk, pollUntil } from './http.js'
import type { FreshnessResult } from './results.js'
import { NEW_PROJECT_PREFIX, TEMP_PREFIX } from './tree.js'

export interface FreshnessRun {
  readonly url: string
  readonly treeDir: string
  /** Project folders to drop into, one per repeat. */
  readonly projects: readonly string[]
  /** A wheel to copy as the dropped file's bytes. */
  readonly template: string
  readonly journal: string
  readonly timeoutMs: number
  readonly log: (text: string) => void
}

/** Time each drop-in and one new project; removes what it created before returning. */
export async function measureFreshness(run: FreshnessRun): Promise<FreshnessResult> {
  const created: string[] = []
  const tag = String(Date.now() % 100000)
  try {
    const dropMs: (number | undefined)[] = []
    for (const [i, folder] of run.projects.entries()) {
      const pageUrl = `${run.url}/simple/${folder}/`
      await getOk(pageUrl) // the page is cached before the change, as in production
      const name = `${folder.replace(/-/g, '_')}-99.${tag}.${i}-py3-none-any.whl`
      const final = join(run.treeDir, folder, name)
      const temp = join(run.treeDir, folder, `${TEMP_PREFIX}${name}.tmp`)
      await journal(run.journal, [temp, final], created)
      await copyFile(run.template, temp)
      const start = performance.now()
      await rename(temp, final)
      const outcome = await pollUntil(pageUrl, (fetched) => fetched.body.includes(name), {
        intervalMs: 5,
        timeoutMs: run.timeoutMs,
      })
      const ms = outcome.kind === 'ok' ? outcome.at - start : undefined
      dropMs.push(ms)
      run.log(
        `  drop-in ${i + 1}/${run.projects.length} into ${folder}: ${ms === undefined ? `not listed after ${run.timeoutMs} ms` : `${ms.toFixed(0)} ms`}`,
      )
      await sleep(200) // let watch events settle so the next drop-in is timed on its own
    }

    await getOk(`${run.url}/simple/`)
    const project = `${NEW_PROJECT_PREFIX}${tag}`
    const tempDir = join(run.treeDir, `${TEMP_PREFIX}${project}`)
    const finalDir = join(run.treeDir, project)
    await journal(run.journal, [tempDir, finalDir], created)
    await mkdir(tempDir)
    await copyFile(run.template, join(tempDir, `${project.replace(/-/g, '_')}-1.0-py3-none-any.whl`))
    const start = performance.now()
    await rename(tempDir, finalDir)
    const outcome = await pollUntil(`${run.url}/simple/`, (fetched) => fetched.body.includes(`${project}/`), {
      intervalMs: 5,
      timeoutMs: run.timeoutMs,
    })
    const newProjectMs = outcome.kind === 'ok' ? outcome.at - start : undefined
    run.log(
      `  new project folder: ${newProjectMs === undefined ? `not listed after ${run.timeoutMs} ms` : `${newProjectMs.toFixed(0)} ms`}`,
    )
    return { dropMs, newProjectMs, timeoutMs: run.timeoutMs }
  } finally {
    for (const path of created.reverse()) await rm(path, { recursive: true, force: true })
    await rm(run.journal, { force: true })
  }
}

async function journal(path: string, paths: readonly string[], created: string[]): Promise<void> {
  await appendFile(path, paths.map((p) => `${p}\n`).join(''))
  created.push(...paths)
}
