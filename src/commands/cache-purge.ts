// `eggserve cache purge NAME...`: remove projects' cached upstream pages and files (pinned
// digests and PEP 658 metadata included) from the cache directory. Safe beside a running
// server on the same directory: it forgets the project at its next request (cache-purge.ts).
import type { Config } from '../config.js'
import { formatBytes } from '../core/bytes.js'
import { isValidProjectName, normalizeProjectName } from '../core/names.js'
import { plural } from '../core/plural.js'
import { ConfigError } from '../errors.js'
import { purgeProject } from '../upstream/cache-purge.js'
import type { Output } from './output.js'

/** Purge each of `names` (normalized, PEP 503) and report what went; returns the exit code. */
export async function runCachePurge(config: Config, names: readonly string[], output: Output): Promise<number> {
  const cacheDir = config.cacheDir
  if (cacheDir === undefined) throw new ConfigError('cache purge needs the cache directory: give --cache-dir DIR')
  if (names.length === 0)
    throw new ConfigError('cache purge needs at least one project name, e.g. eggserve cache purge requests')
  const invalid = names.filter((name) => !isValidProjectName(name))
  if (invalid.length > 0)
    throw new ConfigError(
      `Invalid project name ${invalid.map((name) => `"${name}"`).join(', ')}: expected names such as requests`,
    )
  let bytes = 0
  for (const project of new Set(names.map(normalizeProjectName))) {
    const report = await purgeProject(cacheDir, project)
    bytes += report.bytes
    output.out(
      report.pages === 0 && report.files === 0
        ? `${project}: nothing cached\n`
        : `${project}: removed ${plural(report.pages, 'page')} and ${plural(report.files, 'file')} (${formatBytes(report.bytes)})\n`,
    )
  }
  output.out(`Freed ${formatBytes(bytes)} in ${cacheDir}\n`)
  return 0
}
