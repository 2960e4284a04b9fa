// A worker thread that lists folders of the tree at start-up, beside the main thread
// (folder-prefetch.ts says which and why), a run of folders per message, and exits.
import { once } from 'node:events'
import { parentPort, workerData } from 'node:worker_threads'
import type { PrefetchReply, PrefetchRequest } from './folder-prefetch.js'
import { listPlainFolder } from './local-listing.js'

if (parentPort === null) throw new Error('folder-list-worker.ts must run in a worker thread')
const port = parentPort
const { realRoot, runs, window } = workerData as PrefetchRequest // set by FolderPrefetch

// Runs sent and not taken yet are at most `window`: the main thread acknowledges each run it
// has taken, so listings never pile up there (they would outlive the young generation).
let acknowledged = 0
port.on('message', () => {
  acknowledged++
})
for (const [index, folders] of runs.entries()) {
  while (index - acknowledged >= window) await once(port, 'message')
  const reply: PrefetchReply = { index, listings: folders.map((folder) => listPlainFolder(realRoot, folder) ?? null) }
  port.postMessage(reply)
}
port.close()
