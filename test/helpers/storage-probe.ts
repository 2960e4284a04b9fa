// Runs one LocalStorage operation in a child process as a user without privileges, and reports
// its outcome: permission errors (EACCES) are real only for such a user, since root reads and
// searches anything. As root the child runs as nobody (setpriv, util-linux); otherwise as the
// test's own user, for whom a mode-000 folder is just as closed. The report is one JSON line
// on stdout.
import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { errnoCode } from '../../src/errors.js'
import { LocalStorage } from '../../src/storage/local-storage.js'
import { childEnv, runProcess } from './spawn-server.js'
import { needTool } from './tools.js'

/** The operations the probe knows. */
export type StorageOperation =
  | { readonly op: 'list-root' }
  | { readonly op: 'list-folder'; readonly folder: string }
  | { readonly op: 'sweep-uploads' }
  /** Start an upload into `folder` (aborted at once when it starts): resolves to 'started'. */
  | { readonly op: 'start-upload'; readonly folder: string }
  /** Watch the tree until it reports a failure, or for 5 s: resolves to the failures' codes. */
  | { readonly op: 'watch' }

/** What the operation did. */
export interface ProbeReport {
  /** The resolved value, when it resolved. */
  readonly value?: unknown
  /** The error, when it rejected. */
  readonly error?: { readonly name: string; readonly code?: string; readonly message: string }
  /** Log records written meanwhile. */
  readonly logs: readonly Record<string, unknown>[]
}

const probePath = fileURLToPath(import.meta.url)

/**
 * Run `operation` on a LocalStorage over `root` as a user without privileges; undefined (the
 * test skipped) when the machine lacks setpriv.
 */
export async function probeStorage(
  t: TestContext,
  root: string,
  operation: StorageOperation,
): Promise<ProbeReport | undefined> {
  const args = ['--import', 'tsx', probePath, root, JSON.stringify(operation)]
  let command = process.execPath
  let commandArgs = args
  if (process.getuid?.() === 0) {
    const setpriv = needTool(t, 'setpriv')
    if (setpriv === undefined) return undefined
    command = setpriv
    commandArgs = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args]
  }
  const result = await runProcess(command, commandArgs, { env: childEnv() })
  if (result.code !== 0) throw new Error(`the storage probe failed (exit ${String(result.code)}): ${result.stderr}`)
  // Written below, from a ProbeReport.
  return JSON.parse(result.stdout) as ProbeReport
}

async function run(root: string, operation: StorageOperation): Promise<ProbeReport> {
  const logs: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  const log = pino({ level: 'debug' }, sink)
  try {
    const storage = await LocalStorage.create(root, log)
    return { value: await perform(storage, operation), logs }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err))
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined
    return { error: { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) }, logs }
  }
}

async function perform(storage: LocalStorage, operation: StorageOperation): Promise<unknown> {
  switch (operation.op) {
    case 'list-root':
      return storage.listRoot()
    case 'list-folder':
      return storage.listFolder(operation.folder)
    case 'sweep-uploads':
      return storage.sweepUploads(0)
    case 'start-upload': {
      const upload = await storage.createUpload(operation.folder)
      await upload.abort()
      return 'started'
    }
    case 'watch':
      return watchFailures(storage)
  }
}

// The watcher looks at the tree's entries as it starts; a failure is reported within moments.
// The bound only ends the probe of a watcher that reports nothing (then the test fails on []).
function watchFailures(storage: LocalStorage): Promise<(string | undefined)[]> {
  return new Promise((resolve) => {
    const failures: (string | undefined)[] = []
    const finish = (): void => {
      clearTimeout(timer)
      watch.close()
      resolve(failures)
    }
    const timer = setTimeout(finish, 5000)
    const watch = storage.watch(
      () => undefined,
      (err) => {
        failures.push(errnoCode(err))
        finish()
      },
    )
  })
}

// Run as the program (not imported by a test).
if (process.argv[1] === probePath) {
  const [, , root = '', operation = '{}'] = process.argv
  // Written by probeStorage above, from a StorageOperation.
  process.stdout.write(`${JSON.stringify(await run(root, JSON.parse(operation) as StorageOperation))}\n`)
}
