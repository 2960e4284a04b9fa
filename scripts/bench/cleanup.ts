// Everything the bench starts is registered here, so it is stopped on success, on errors and
// on Ctrl-C: an async stop for the normal path, and a synchronous last resort for process exit.

interface Task {
  readonly label: string
  readonly stop: () => Promise<void>
  readonly stopSync: () => void
}

const tasks = new Map<number, Task>()
let nextId = 1
let installed = false
let interrupted = false

/** Register something to stop; returns the function that unregisters it once stopped normally. */
export function onCleanup(label: string, stop: () => Promise<void>, stopSync: () => void): () => void {
  const id = nextId++
  tasks.set(id, { label, stop, stopSync })
  return () => {
    tasks.delete(id)
  }
}

/** Stop everything still registered, newest first. Errors are reported, never thrown. */
export async function runCleanup(): Promise<void> {
  const pending = [...tasks.entries()].reverse()
  tasks.clear()
  for (const [, task] of pending) {
    try {
      await task.stop()
    } catch (err) {
      process.stderr.write(
        `[bench] cleanup of ${task.label} failed: ${err instanceof Error ? err.message : String(err)}\n`,
      )
    }
  }
}

/** True once SIGINT/SIGTERM arrived: long loops check it to stop early. */
export function wasInterrupted(): boolean {
  return interrupted
}

/** Install SIGINT/SIGTERM handlers and an exit hook (once). */
export function installCleanupHandlers(): void {
  if (installed) return
  installed = true
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      // Second Ctrl-C: stop waiting, but still kill what is left synchronously (exit hook).
      process.exit(130)
    }
    interrupted = true
    process.stderr.write(`\n[bench] ${signal}: stopping the servers and exiting\n`)
    void runCleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', () => {
    for (const task of [...tasks.values()].reverse()) {
      try {
        task.stopSync()
      } catch {
        // Last resort only: nothing more can be done while exiting.
      }
    }
    tasks.clear()
  })
}
