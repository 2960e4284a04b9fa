// `eggserve warm`: fill the persistent cache, with a progress bar on a terminal and plain
// progress lines otherwise, then prune entries of files that are gone.
import { pino } from 'pino'
import { FactsLog } from '../analysis/facts-log.js'
import type { Config } from '../config.js'
import { ConfigError } from '../errors.js'
import { Warmup, type WarmupProgress } from '../index/warmup.js'
import { indexServicesFor } from '../services.js'
import type { Output } from './output.js'

/** Hash every file of `config.eggdir` into `config.cacheDir`. Returns the exit code. */
export async function runWarm (config: Config, output: Output): Promise<number> {
  if (config.cacheDir === undefined) throw new ConfigError('warm needs a cache directory (--cache-dir, or set HOME or XDG_CACHE_HOME)')
  // Warnings (unreadable archives) go to stderr as JSON lines; progress is the command's own output.
  const logger = pino({ level: 'warn' }, pino.destination(2))
  const services = await indexServicesFor(config, logger)
  try {
    const report = await services.index.load()
    if (report.problems.length > 0) output.err(`eggserve: skipping ${report.problems.length} files with layout problems (see eggserve check)\n`)
    const tty = output.isTTY === true
    const known = services.facts.size
    const warmup = new Warmup({
      index: services.index,
      analyzer: services.analyzer,
      log: logger,
      progressEveryMs: tty ? 200 : 5000,
      onProgress: (p) => { output.err(tty ? `\r${bar(p)}` : `${line(p)}\n`) },
    })
    const done = await warmup.run()
    if (tty && done.files > 0) output.err('\n')
    if (services.facts instanceof FactsLog) {
      const live = new Set<string>()
      for (const { files } of services.index.fileLists()) for (const file of files) live.add(file.identity)
      await services.facts.compact(live)
    }
    output.out(`Hashed ${done.filesDone} files (${(done.bytesDone / 1e9).toFixed(2)} GB); ${known} were already cached; cache: ${config.cacheDir}\n`)
    return 0
  } finally {
    await services.close()
  }
}

function bar (p: WarmupProgress): string {
  const fraction = p.bytes === 0 ? 1 : p.bytesDone / p.bytes
  const width = 30
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${line(p)}`
}

function line (p: WarmupProgress): string {
  const eta = p.etaSeconds === undefined ? '?' : `${Math.ceil(p.etaSeconds)}s`
  return `${p.filesDone}/${p.files} files, ${(p.bytesDone / 1e9).toFixed(2)}/${(p.bytes / 1e9).toFixed(2)} GB, ${(p.rate / 1e6).toFixed(1)} MB/s, ETA ${eta}`
}
