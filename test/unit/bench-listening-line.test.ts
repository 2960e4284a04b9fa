// The benchmark's reading of eggserve's listening line (scripts/bench/listening-line.ts): the
// parsed line's message, anchored, not a substring of the raw text.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { pino } from 'pino'
import { listeningUrl } from '../../scripts/bench/listening-line.js'

/** Lines as eggserve's pino logger writes them. */
function logLines(log: (logger: pino.Logger) => void): string[] {
  let text = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8')
      done()
    },
  })
  log(pino({ base: { pid: 1 } }, sink))
  return text.split('\n').filter((line) => line !== '')
}

await test('the listening line gives the bound address', () => {
  const [line] = logLines((logger) => {
    logger.info('eggserve listening on http://127.0.0.1:40123')
  })
  assert.equal(listeningUrl(line ?? ''), 'http://127.0.0.1:40123')
})

await test('lines that only contain the words are not the listening line', () => {
  const lines = logLines((logger) => {
    logger.info({ url: '/eggserve listening on http://evil.example/' }, 'request')
    logger.warn('Cannot use the cache directory: eggserve listening on http://127.0.0.1:1 was logged before')
    logger.info({ note: 'eggserve listening on http://127.0.0.1:2' }, 'Serving')
  })
  assert.equal(lines.length, 3)
  for (const line of lines) assert.equal(listeningUrl(line), undefined, line)
})

await test('a line that is not JSON, or not an object, is not the listening line', () => {
  assert.equal(listeningUrl('eggserve listening on http://127.0.0.1:40123'), undefined)
  assert.equal(listeningUrl('"eggserve listening on http://127.0.0.1:40123"'), undefined)
  assert.equal(listeningUrl('null'), undefined)
  assert.equal(listeningUrl('{"msg":"eggserve listening on http://127.0.0.1:40123"'), undefined)
})
