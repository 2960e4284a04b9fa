// `eggserve check`: validate a tree and print every problem (exit 1 if there is any).
import { pino } from 'pino'
import type { Config } from '../config.js'
import { emptyTreeWarning, problemCount, treeSummary } from '../core/tree-summary.js'
import { configuredBucket, createIndexServices } from '../services.js'
import type { Output } from './output.js'

/** Print the problems of `config.eggdir`, or a summary when there are none. Returns the exit code. */
export async function runCheck(config: Config, output: Output): Promise<number> {
  const logger = pino({ level: 'silent' })
  // EGGSERVE_STORAGE=s3://... checks the bucket the server would serve.
  const storage = await configuredBucket(config, logger)
  const services = await createIndexServices({
    eggdir: config.eggdir,
    hashAlgorithm: config.hashAlgorithm,
    logger,
    ...(storage === undefined ? {} : { storage }),
  })
  const where = services.storage.location
  try {
    const report = await services.index.load()
    for (const problem of report.problems) output.out(`${problem.message}\n`)
    const empty = emptyTreeWarning(where, report)
    if (empty !== undefined) output.err(`eggserve: warning: ${empty}\n`)
    if (report.problems.length === 0) {
      output.out(`"${where}": ${treeSummary(report)}, no problems\n`)
      return 0
    }
    output.err(`eggserve: ${problemCount(where, report.problems.length)} (${treeSummary(report)})\n`)
    return 1
  } finally {
    await services.close()
  }
}
