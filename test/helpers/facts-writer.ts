// A separate process that writes facts into a shared cache directory (for the multi-process
// test of the persistent cache): node --import tsx facts-writer.ts DIR NAMESPACE PREFIX COUNT [compact | compact-often]
// compact: once at the end; compact-often: also after every 500 records, while the other appends.
import { pino } from 'pino'
import { FactsLog } from '../../src/file-facts/facts-log.js'

const [dir = '', namespace = '', prefix = '', count = '0', mode = ''] = process.argv.slice(2)
const store = await FactsLog.open({
  dir,
  namespace,
  algorithms: ['md5', 'sha256'],
  log: pino({ level: 'silent' }),
  flushDelayMs: 1,
})
for (let i = 0; i < Number(count); i++) {
  store.set(`${prefix}:${i}`, {
    digests: { md5: 'a'.repeat(32), sha256: i.toString(16).padStart(64, '0') },
    metadata: { sha256: 'b'.repeat(64), requiresPython: '>=3.8' },
  })
  // Small batches, so the two writers' appends really interleave.
  if (i % 50 === 0) await store.flush()
  if (mode === 'compact-often' && i % 500 === 499) await store.compact()
}
if (mode === 'compact') await store.compact()
await store.close()
