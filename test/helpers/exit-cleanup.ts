// Children a test process started are killed if the test process exits before their own
// cleanup runs (a test process that dies abruptly never reaches t.after). One 'exit' listener
// serves them all: one listener per child made a test running a dozen commands side by side
// pass Node's default limit of 10 listeners per event (MaxListenersExceededWarning).

const pending = new Set<{ readonly kill: () => void }>()
let installed = false

function killAll(): void {
  for (const entry of pending) entry.kill()
}

/**
 * Run `kill` if this process exits while the child may still run; call the returned function
 * once the child is gone (or stopped otherwise).
 */
export function killOnExit(kill: () => void): () => void {
  if (!installed) {
    installed = true
    process.on('exit', killAll)
  }
  const entry = { kill }
  pending.add(entry)
  return () => {
    pending.delete(entry)
  }
}
