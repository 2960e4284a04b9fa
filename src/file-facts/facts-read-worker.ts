// A worker thread that reads the cache file once, at start-up, and hands its records to the
// main thread (facts-file-read.ts says why), then exits.
import { parentPort, workerData } from 'node:worker_threads'
import { errnoCode } from '../errors.js'
import { readFactsFileSync, type FactsReadReply, type FactsReadRequest } from './facts-file-read.js'

if (parentPort === null) throw new Error('facts-read-worker.ts must run in a worker thread')
const request = workerData as FactsReadRequest // set by readFactsFile(), which owns the contract

let reply: FactsReadReply
try {
  reply = { kind: 'read', contents: readFactsFileSync(request) }
} catch (err) {
  reply = { kind: errnoCode(err) === 'ENOENT' ? 'missing' : 'failed' }
}
parentPort.postMessage(reply)
