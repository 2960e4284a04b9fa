// Two V8 settings for a server that keeps a large index: how far the main thread's old
// generation may grow between two full collections, and (below) allocation-site pretenuring.
//
// V8 sets the next full collection's threshold at up to 4 times what survived the last one
// (its "heap growing factor", chosen from how fast the collector is next to how fast the
// program allocates; V8's heap/memory-controller.cc). On a quiet machine a cold start
// collects the old generation once, when the tree is listed (about 60 MB live at 100,000
// files), and then not again before every file is hashed: the threshold is near 250 MB.
// Meanwhile the main thread promotes some 0.6 kB of garbage per hashed file into the old
// generation, besides the 0.45 kB of facts it keeps, so the heap holds about 100 MB of dead
// objects when the warm-up ends (docs/benchmarks.md, "Memory"). That garbage is not one site
// that could be removed: it is the same whether the facts are kept or not, with replies
// batched, and with a young generation of 4 or 16 MB.
//
// So the server tells V8 to collect once the old generation has grown by half of what
// survived, as V8 already does by itself when a loaded machine slows the hashing down: VmHWM
// of a cold start at 100,000 files, 323-354 MB without, about 290 MB with, for a few more
// full collections (incremental, of a heap of some 100 MB). V8 reads the setting each time it
// sets the threshold, so setting it when the process starts covers the whole run. The command
// line can still say otherwise: a value given there (node --heap-growing-percent=N, or
// NODE_OPTIONS) is kept. Node's documentation warns that a flag changed after the VM started may
// behave unpredictably; this one only moves the next threshold, and test/unit/heap-pacing.test.ts
// shows it taking effect (CI runs it on Node 20, 22 and 24).
import { setFlagsFromString } from 'node:v8'

/** Growth of the old generation allowed between full collections, in percent of what survived. */
export const HEAP_GROWING_PERCENT = 50

/**
 * Pace V8's full collections for a server that keeps a large index (see above); a no-op when
 * the node command line already chose a heap growing factor.
 * @returns whether the setting was made here.
 */
export function paceHeapGrowth(
  execArgv: readonly string[] = process.execArgv,
  env = process.env,
  v8Version = process.versions.v8,
): boolean {
  if (chosenOnCommandLine(/^--heap[-_]growing[-_]percent(=|$)/, execArgv, env)) return false
  // Only for the V8 of Node 20 and 22 (11 and 12), where the test's probe shows the effect. On
  // Node 24's (13) the probe's peak is 99 MB or about 200 MB from one run to the next, with or
  // without the setting, so no benefit is shown there and V8 is left to its defaults.
  if (Number.parseInt(v8Version, 10) >= 13) return false
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  return true
}

// V8's allocation-site pretenuring: when most objects made at one place in the code survive
// their first scavenges, V8 decides that place makes long-lived objects and allocates its
// later objects straight into the old generation (V8's heap/pretenuring-handler.cc). A cold
// start teaches it exactly that: the listing, parsing and facts code makes the index, which
// lives for good. The same code then makes nothing but garbage (the reconcile every
// --reconcile-interval re-reads every folder, mostly to find it unchanged; each hashed file's
// reply), and that garbage goes to the old generation, where only a full collection frees
// it. In a trace (node --trace-gc) of a server on the 100,000-file tree, one reconcile grew
// the old generation from 85 to 152 MB before a full collection brought it back to 84.
// Turned off, VmHWM at a cold start's ready was 267 / 270 MB against 291 / 285 MB, with less
// CPU time to ready (A/B alternating, docs/benchmarks.md, "Memory").
//
// test/helpers/pretenuring-probe.ts makes a site's objects survive and then makes garbage at
// it: by default that garbage is tenured on Node 20 every time (some 75 MB of old generation),
// on Node 24 in two runs of five (62 MB), on Node 22 never; with the setting, never (2 to 14 MB).
// As for the heap growing factor, a choice made on the node command line is kept.

/**
 * Turn off allocation-site pretenuring (see above); a no-op when the node command line already
 * chose.
 * @returns whether the setting was made here.
 */
export function stopPretenuring(execArgv: readonly string[] = process.execArgv, env = process.env): boolean {
  if (chosenOnCommandLine(/^--(no-)?allocation[-_]site[-_]pretenuring(=|$)/, execArgv, env)) return false
  setFlagsFromString('--no-allocation-site-pretenuring')
  return true
}

/** Both settings above, as a server process makes them when it starts (one process or a --workers primary). */
export function tuneHeap(): void {
  paceHeapGrowth()
  stopPretenuring()
}

// Whether the node command line (or NODE_OPTIONS) gives a flag `pattern` matches.
function chosenOnCommandLine(pattern: RegExp, execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => pattern.test(arg))
}
