// `eggserve warm`: fill the persistent cache, with a progress bar on a terminal and plain
// progress lines otherwise, then prune entries of files that are gone. Its output is plain
// text; log records go to --log FILE as the server writes them, or else warnings and errors
// become plain `eggserve: warning: ...` lines on stderr.
import type { FastifyBaseLogger } from 'fastify'
import { FactsLog } from '../file-facts/facts-log.js'
import type { Config } from '../config.js'
import { formatBytes } from '../core/bytes.js'
import { plural } from '../core/plural.js'
import { emptyTreeWarning } from '../core/tree-summary.js'
import { AppError, ConfigError } from '../errors.js'
import { Warmup, type WarmupProgress } from '../live-index/warmup.js'
import { indexServicesFor, type IndexServices } from '../services.js'
import { commandLog, type Output } from './output.js'

/** Hash every file of `config.eggdir` into `config.cacheDir`. Returns the exit code. */
export async function runWarm(config: Config, output: Output): Promise<number> {
  if (config.cacheDir === undefined)
    throw new ConfigError('warm needs a cache directory (--cache-dir, or set HOME or XDG_CACHE_HOME)')
  const { logger, flush } = commandLog(config, output)
  try {
    const services = await indexServicesFor(config, logger)
    try {
      // Hashing into memory only would be work thrown away.
      if (services.cacheProblem !== undefined) throw new AppError('EGGSERVE_CACHE_DIR', services.cacheProblem)
      return await warm(config, output, { services, logger })
    } finally {
      await services.close()
    }
  } finally {
    await flush()
  }
}

async function warm(
  config: Config,
  output: Output,
  parts: { services: IndexServices; logger: FastifyBaseLogger },
): Promise<number> {
  const { services, logger } = parts
  const report = await services.index.load()
  if (report.problems.length > 0)
    output.err(
      `eggserve: skipping ${plural(report.problems.length, 'file')} with layout problems (see eggserve check)\n`,
    )
  const empty = emptyTreeWarning(config.eggdir, report)
  if (empty !== undefined) output.err(`eggserve: warning: ${empty}\n`)
  const tty = output.isTTY === true
  const known = services.facts.size
  const warmup = new Warmup({
    index: services.index,
    analyzer: services.analyzer,
    log: logger,
    progressEveryMs: tty ? 200 : 5000,
    onProgress: (p) => {
      output.err(tty ? `\r${bar(p)}` : `${line(p)}\n`)
    },
  })
  const done = await warmup.run()
  if (tty && done.files > 0) output.err('\n')
  if (services.facts instanceof FactsLog) {
    const live = new Set<string>()
    for (const { files } of services.index.heldProjects()) for (const file of files) live.add(file.identity)
    await services.facts.compact(live)
  }
  output.out(
    `Hashed ${plural(done.filesDone, 'file')} (${formatBytes(done.bytesDone)}); ${plural(known, 'was', 'were')} already cached; cache: ${config.cacheDir}\n`,
  )
  return 0
}

function bar(p: WarmupProgress): string {
  const fraction = p.bytes === 0 ? 1 : p.bytesDone / p.bytes
  const width = 30
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${line(p)}`
}

function line(p: WarmupProgress): string {
  const eta = p.etaSeconds === undefined ? '?' : `${Math.ceil(p.etaSeconds)}s`
  return `${p.filesDone}/${plural(p.files, 'file')}, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytes)}, ${formatBytes(p.rate)}/s, ETA ${eta}`
}
