// `eggserve cache warm -r requirements.txt`: fetch into the upstream cache what the files name,
// through the server's own upstream configuration and verified download path, so a later
// `--offline` server (or an upstream outage) still installs them. No dependency resolution:
// the requirements are taken as given (a lock file names the whole closure).
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Config } from '../config.js'
import { formatBytes } from '../core/bytes.js'
import { parseDistFilename } from '../core/filenames.js'
import { plural } from '../core/plural.js'
import { parseRequirements, type Requirement } from '../core/requirements.js'
import { bestVersion } from '../core/specifiers.js'
import type { UpstreamFile } from '../core/upstream-page.js'
import { compareVersions } from '../core/versions.js'
import { ConfigError } from '../errors.js'
import { indexServicesFor } from '../services.js'
import { UpstreamIndex } from '../upstream/upstream-index.js'
import type { UpstreamSettings } from '../upstream/upstream-settings.js'
import { commandLog, type Output } from './output.js'

/** A requirement and where it was written. */
interface Located {
  readonly requirement: Requirement
  readonly where: string
}

/** One file to have in the cache. */
interface Planned {
  readonly project: string
  readonly file: UpstreamFile
  readonly upstream: UpstreamSettings
}

/** Warm the cache with what `files` require; returns the exit code (1 when anything failed). */
export async function runCacheWarm(config: Config, files: readonly string[], output: Output): Promise<number> {
  const cacheDir = config.cacheDir
  if (files.length === 0) throw new ConfigError('cache warm needs a requirements file: -r requirements.txt')
  if (config.upstream.upstreams.length === 0 || cacheDir === undefined)
    throw new ConfigError(
      'cache warm needs the upstream configuration of the server: --upstream URL and --cache-dir DIR',
    )
  if (config.upstream.offline) throw new ConfigError('cache warm cannot fetch anything with --offline')
  const failures: string[] = []
  const requirements = await readAll(files, output, failures)
  const { logger, flush } = commandLog(config, output)
  try {
    const services = await indexServicesFor(config, logger)
    try {
      await services.index.load()
      const upstream = new UpstreamIndex({ index: services.index, config: config.upstream, cacheDir, log: logger })
      const plan: Planned[] = []
      for (const located of requirements) await planOne(upstream, located, { plan, failures, output })
      const done = await fetchAll(upstream, plan, { failures, output })
      upstream.close()
      output.out(
        `Warmed ${plural(requirements.length, 'requirement')}: ${plural(done.fetched, 'file')} fetched (${formatBytes(done.bytes)}), ${plural(done.cached, 'was', 'were')} already cached; cache: ${cacheDir}\n`,
      )
    } finally {
      await services.close()
    }
  } finally {
    await flush()
  }
  if (failures.length === 0) return 0
  output.out(`${plural(failures.length, 'failure')}:\n${failures.map((failure) => `  ${failure}\n`).join('')}`)
  return 1
}

// The files and the files they include (-r), each read once; constraints (-c) are not warmed.
async function readAll(files: readonly string[], output: Output, failures: string[]): Promise<Located[]> {
  const found: Located[] = []
  const seen = new Set<string>()
  const read = async (path: string): Promise<void> => {
    const full = resolve(path)
    if (seen.has(full)) return
    seen.add(full)
    let text: string
    try {
      text = await readFile(full, 'utf8')
    } catch (err) {
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'error'
      failures.push(`${path}: cannot be read (${code})`)
      return
    }
    const parsed = parseRequirements(text)
    for (const problem of parsed.problems) failures.push(`${path}:${String(problem.line)}: ${problem.message}`)
    for (const skipped of parsed.skipped)
      output.err(`eggserve: ${path}:${String(skipped.line)}: skipped "${skipped.text}": ${skipped.reason}\n`)
    for (const requirement of parsed.requirements)
      found.push({ requirement, where: `${path}:${String(requirement.line)}` })
    for (const include of parsed.includes) {
      if (include.kind === 'constraints') {
        output.err(
          `eggserve: ${path}:${String(include.line)}: skipped constraints file ${include.path}: constraints are not requirements\n`,
        )
        continue
      }
      await read(resolve(dirname(full), include.path))
    }
  }
  for (const file of files) await read(file)
  return found
}

// Resolve one requirement to the files of one version (all of them, or those its hashes name).
async function planOne(
  upstream: UpstreamIndex,
  located: Located,
  into: { plan: Planned[]; failures: string[]; output: Output },
): Promise<void> {
  const { requirement, where } = located
  const { project } = requirement
  const fail = (why: string): void => {
    into.failures.push(`${where}: ${requirement.name}: ${why}`)
  }
  if (!(await upstream.reachesUpstream(project))) {
    const local = (await upstream.local.findProject(project)) !== undefined
    into.output.err(
      `eggserve: ${where}: skipped ${project}: ${local ? 'a local project (the eggdir has it)' : 'matches --never-upstream'}\n`,
    )
    return
  }
  const resolution = await upstream.resolve(project)
  const view = resolution.kind === 'upstream' || resolution.kind === 'merge' ? resolution.view : undefined
  if (view === undefined) {
    fail(resolution.kind === 'not-found' ? 'no upstream has this project' : 'the upstream cannot be reached')
    return
  }
  // PEP 592: a yanked file counts only for a requirement pinned to its version.
  const pinned = requirement.specifiers.some((spec) => spec.operator === '==' || spec.operator === '===')
  const versionOf = (file: UpstreamFile): string | undefined => parseDistFilename(file.filename, project)?.version
  const candidates = view.page.files.filter((file) => pinned || file.yanked === undefined)
  const version = bestVersion(
    candidates.flatMap((file) => versionOf(file) ?? []),
    requirement.specifiers,
  )
  if (version === undefined) {
    fail(
      `no version on the upstream satisfies "${requirement.specifiers.map((s) => s.operator + s.version).join(',')}"`,
    )
    return
  }
  let chosen = candidates.filter((file) => {
    const own = versionOf(file)
    return own !== undefined && compareVersions(own, version) === 0
  })
  if (requirement.hashes.length > 0) {
    chosen = chosen.filter((file) => requirement.hashes.some((hash) => file.hashes[hash.algorithm] === hash.hex))
    if (chosen.length === 0) {
      fail(`no file of ${version} has one of the hashes given`)
      return
    }
  }
  for (const file of chosen) {
    into.plan.push({ project: view.project, file, upstream: view.upstream })
    const metadata = file.coreMetadata
    // PEP 658: pip reads the metadata file first when the page announces one; an offline server needs it too.
    if (metadata !== undefined)
      into.plan.push({
        project: view.project,
        file: {
          filename: `${file.filename}.metadata`,
          url: `${file.url}.metadata`,
          hashes: metadata === true ? {} : metadata,
        },
        upstream: view.upstream,
      })
  }
}

// Fetch the planned files one after another through the server's download path (verified
// against the page's hash before the file is kept), with a progress line per file.
async function fetchAll(
  upstream: UpstreamIndex,
  plan: readonly Planned[],
  context: { failures: string[]; output: Output },
): Promise<{ fetched: number; cached: number; bytes: number }> {
  const { output, failures } = context
  const done = { fetched: 0, cached: 0, bytes: 0 }
  const tty = output.isTTY === true
  for (const [index, { project, file, upstream: settings }] of plan.entries()) {
    const counter = `[${String(index + 1)}/${String(plan.length)}]`
    if (await upstream.files.isCached(project, file.filename)) {
      done.cached++
      if (!tty) output.err(`${counter} ${file.filename}: already cached\n`)
      continue
    }
    try {
      const download = await upstream.files.fetch({ project, file, upstream: settings })
      let shownAt = 0
      const showProgress = (): void => {
        if (Date.now() - shownAt < 200) return
        shownAt = Date.now()
        const total = download.length === undefined ? '' : ` of ${formatBytes(download.length)}`
        output.err(`\r${counter} ${file.filename}: ${formatBytes(download.available)}${total}`)
      }
      if (tty) download.on('progress', showProgress)
      const state = await download.settled()
      if (tty) {
        download.off('progress', showProgress)
        output.err('\n')
      }
      if (state === 'failed') throw download.error ?? new Error('the download failed')
      done.fetched++
      done.bytes += download.available
      if (!tty) output.err(`${counter} ${file.filename}: fetched ${formatBytes(download.available)}\n`)
    } catch (err) {
      // An UpstreamFailure says what kind; its cause says what happened.
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : ''
      failures.push(`${file.filename}: ${err instanceof Error ? err.message : String(err)}${cause}`)
      output.err(`${counter} ${file.filename}: failed\n`)
    }
  }
  return done
}
