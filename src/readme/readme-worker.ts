// The README worker thread: Markdown rendering and HTML sanitizing are CPU work that a large
// README makes long, so they run here, never on the thread that answers requests.
import { parentPort } from 'node:worker_threads'
import { renderMarkdown } from './markdown.js'
import type { ReadmeJob, ReadmeReply } from './readme-protocol.js'
import { sanitizeReadme } from './sanitize.js'
import { WARM_UP_RENDERS, warmUp } from './warm-up.js'

const port = parentPort
if (port === null) throw new Error('readme-worker.ts runs only as a worker thread')

// Before the first job is taken (jobs wait in the port's queue): see warm-up.ts. A failure here
// only means a colder first README, never a worker that does not start.
try {
  for (let run = 0; run < WARM_UP_RENDERS; run++) warmUp()
} catch {
  // The jobs themselves report any error that matters.
}

port.on('message', (job: ReadmeJob) => {
  let reply: ReadmeReply
  try {
    const options = { remoteImages: job.remoteImages }
    const html = job.kind === 'markdown' ? renderMarkdown(job.text, options) : sanitizeReadme(job.text, options)
    reply = { id: job.id, ok: true, html }
  } catch (err) {
    reply = { id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) }
  }
  port.postMessage(reply)
})
