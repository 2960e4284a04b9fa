// How soon a --workers worker that died is replaced: at once, unless it died soon after
// starting, when the pause doubles each time up to a maximum, so a worker that cannot run
// does not make the primary fork in a loop.

// A worker that dies within this long of starting is replaced only after a pause.
const QUICK_DEATH_MS = 10_000
const FIRST_PAUSE_MS = 1_000
const MAX_PAUSE_MS = 30_000

/**
 * The pause before replacing a worker that lived `livedMs`, given the pause before its own start
 * (undefined: none yet).
 * @example restartPause(2_000, undefined) // 1000
 * @example restartPause(2_000, 1_000) // 2000
 * @example restartPause(60_000, 8_000) // 0
 */
export function restartPause(livedMs: number, previous: number | undefined): number {
  if (livedMs >= QUICK_DEATH_MS) return 0
  // No pause before (none yet, or the last worker lived long): start again from the first.
  // Doubling a 0 would stay 0, and replacements dying at start-up would be forked in a loop.
  if (previous === undefined || previous === 0) return FIRST_PAUSE_MS
  return Math.min(previous * 2, MAX_PAUSE_MS)
}
