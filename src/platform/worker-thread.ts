// Starting one of eggserve's worker threads: its module is a file beside the caller's, built
// (dist/, .js) or run from source under tsx (the tests, .ts). Node 20 refuses a .ts entry before
// any --import hook runs, so from source the worker registers tsx first and then imports it.
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * A worker thread running the module `name` (no extension) of the folder of `callerUrl` (the
 * caller's `import.meta.url`), with `options`.
 */
export function startWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  if (!fromSource) return new Worker(url, options)
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`,
    { ...options, eval: true },
  )
}
