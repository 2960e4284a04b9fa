// `eggserve check`: validate a tree and print every problem (exit 1 if there is any).
import { pino } from 'pino'
import type { Config } from '../config.js'
import { createIndexServices } from '../services.js'
import type { Output } from './output.js'

/** Print the problems of `config.eggdir`, or a summary when there are none. Returns the exit code. */
export async function runCheck (config: Config, output: Output): Promise<number> {
  const services = await createIndexServices({ eggdir: config.eggdir, hashAlgorithm: config.hashAlgorithm, logger: pino({ level: 'silent' }) })
  try {
    const report = await services.index.load()
    const files = report.projects.reduce((sum, project) => sum + project.files.length, 0)
    for (const problem of report.problems) output.out(`${problem.message}\n`)
    const summary = `${report.projects.length} projects, ${files} distributions`
    if (report.problems.length === 0) {
      output.out(`"${config.eggdir}": ${summary}, no problems\n`)
      return 0
    }
    output.err(`eggserve: "${config.eggdir}" has ${report.problems.length === 1 ? '1 problem' : `${report.problems.length} problems`} (${summary})\n`)
    return 1
  } finally {
    await services.close()
  }
}
