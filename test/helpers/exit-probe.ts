// Runs bin/eggserve.js in this process and reports, once its main() has returned, what could
// still keep the process alive: the event loop's ref'd resources (timers, sockets, servers,
// watchers, child processes) and worker threads not yet gone. Used as startServer()'s
// wrapper: `node --import tsx exit-probe.ts <node> <bin> ARGS...`. The report is one line
// on stderr, PROBE_PREFIX + JSON, written two loop turns after main() returned, so that
// handles being closed (a server's listening socket) have finished closing: no clock involved.
import { createHook } from 'node:async_hooks'
import { writeSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** What the probe found when the command line had finished. */
export interface ExitReport {
  /** process.getActiveResourcesInfo(): ref'd resources only (unref'd timers are not there). */
  readonly resources: readonly string[]
  /** Worker threads started and not yet exited. */
  readonly workers: number
}

/** The line on stderr that carries the report. */
export const PROBE_PREFIX = 'eggserve-exit-probe: '

/** The probe itself, for startServer's `wrapper` option. */
export const probePath = fileURLToPath(import.meta.url)

/** The report in `stderr`, if the probe wrote one. */
export function exitReport(stderr: string): ExitReport | undefined {
  const line = stderr.split('\n').find((text) => text.startsWith(PROBE_PREFIX))
  // Written by the probe below, from an ExitReport.
  return line === undefined ? undefined : (JSON.parse(line.slice(PROBE_PREFIX.length)) as ExitReport)
}

// Run as the program (not imported by a test).
if (process.argv[1] === probePath) {
  // getActiveResourcesInfo() does not list worker threads (Node 20): count them by their async resource.
  const workers = new Set<number>()
  createHook({
    init: (id, type) => {
      if (type === 'WORKER') workers.add(id)
    },
    destroy: (id) => {
      workers.delete(id)
    },
  }).enable()
  const [, , , bin = ''] = process.argv
  // eggserve sees the command line it would see without the probe: [node, bin, ...args].
  process.argv.splice(1, 2)
  // The bin's top-level `process.exitCode = await main(process.argv)` is over when this resolves.
  await import(pathToFileURL(bin).href)
  setImmediate(() => {
    setImmediate(() => {
      const report: ExitReport = { resources: process.getActiveResourcesInfo(), workers: workers.size }
      writeSync(2, `${PROBE_PREFIX}${JSON.stringify(report)}\n`)
    })
  })
}
