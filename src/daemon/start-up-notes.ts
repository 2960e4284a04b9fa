// What start-up tells the operator once the listening line is out: upload leftovers and the
// storage's create-only writes, weak passwords, layout problems that --lenient skipped, an empty
// tree, shadowed folders, and the closing "Serving" summary.
import type { FastifyBaseLogger } from 'fastify'
import { FactsLog } from '../file-facts/facts-log.js'
import { SHADOWED_FOLDERS } from '../app.js'
import type { PasswordFile } from '../auth/password-file.js'
import type { Config } from '../config.js'
import type { LayoutReport } from '../core/layout.js'
import { distributionCount, emptyTreeWarning } from '../core/tree-summary.js'
import type { IndexServices } from '../services.js'
import type { StorageBackend } from '../storage/storage.js'

// Temporary upload files this old are leftovers of a crash (a live upload writes every few seconds).
const STALE_UPLOAD_MS = 60 * 60_000

/** What the notes are about. */
export interface StartUpFacts {
  readonly config: Config
  readonly storage: StorageBackend
  readonly report: LayoutReport
  /** undefined without a password file. */
  readonly passwords: PasswordFile | undefined
  readonly logger: FastifyBaseLogger
}

/** Log the warnings and notes of start-up (uploads first: they may remove leftovers). */
export async function logStartUpNotes(facts: StartUpFacts): Promise<void> {
  const { config, report, logger } = facts
  await startUploads(facts)
  facts.passwords?.warnWeak()
  for (const problem of report.problems) {
    logger.warn({ path: problem.path, code: problem.code }, `Skipping ${problem.message}`)
  }
  const empty = emptyTreeWarning(config.eggdir, report)
  if (empty !== undefined) logger.warn({ eggdir: config.eggdir }, empty)
  for (const { folder, project } of report.projects) {
    if (SHADOWED_FOLDERS.includes(project)) {
      logger.warn(
        { folder },
        `Folder "${folder}/" is shadowed by the /${project}/ route; use /simple/${project}/ and /packages/${folder}/ for it`,
      )
    }
  }
}

/** The last line of start-up: what is served, how, and how long reading the tree took. */
export function logServing(
  facts: StartUpFacts & { readonly services: IndexServices; readonly loadStarted: number },
  message = 'Serving',
): void {
  const { config, report, services } = facts
  facts.logger.info(
    {
      eggdir: facts.storage.location,
      projects: report.projects.length,
      files: distributionCount(report),
      scanMs: Date.now() - facts.loadStarted,
      cached: services.facts.size,
      // null when there is none, or when it could not be used (a warning said why).
      cacheDir: services.facts instanceof FactsLog ? (config.cacheDir ?? null) : null,
      hashAlgorithm: config.hashAlgorithm,
      simpleHashAlgorithm: config.simpleHashAlgorithm,
      uploads: config.uploads,
      authenticate: config.authenticate,
    },
    message,
  )
}

// Start-up notes on uploads: leftovers of a crash removed, a loud warning when anyone may
// upload, and whether the storage refuses a second create-only write of one key.
async function startUploads({ config, storage, logger }: StartUpFacts): Promise<void> {
  if (config.uploads === 'disabled') return
  if (config.uploads === 'open') {
    logger.warn(
      { authenticate: config.authenticate },
      'UPLOADS ARE OPEN TO ANYONE: every client that reaches this server may upload and remove packages (--authenticate does not include "update")',
    )
  }
  try {
    const removed = await storage.sweepUploads(STALE_UPLOAD_MS)
    if (removed > 0) logger.info({ removed }, 'Removed temporary files of interrupted uploads')
  } catch (err) {
    logger.warn({ err }, 'Cannot look for temporary files of interrupted uploads')
  }
  await probeCreateOnly(storage, logger)
}

// Uploads from several servers sharing one store are safe only if the store refuses the
// second create-only write of a key (S3 If-None-Match: *); some S3-compatible servers ignore it.
async function probeCreateOnly(storage: StorageBackend, logger: FastifyBaseLogger): Promise<void> {
  try {
    const probe = await storage.probeConditionalWrites()
    if (probe.enforced) {
      logger.info(
        { conditionalWrites: 'enforced', detail: probe.detail },
        'The storage refuses a second create-only write of a file, as uploads from several servers need',
      )
    } else {
      logger.warn(
        { conditionalWrites: 'ignored', detail: probe.detail },
        `The storage at ${storage.location} does not enforce create-only writes: ${probe.detail}. Only one server may accept uploads for it; two could both publish the same filename with different bytes`,
      )
    }
  } catch (err) {
    logger.warn({ err }, 'Cannot check whether the storage enforces create-only writes')
  }
}
