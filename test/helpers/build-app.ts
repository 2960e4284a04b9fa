// An app over a real directory, driven with app.inject(); logs are captured for assertions.
import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp, type AppMetrics, type UploadSettings } from '../../src/app.js'
import type { UiSettings } from '../../src/http/routes/ui.js'
import { SETTINGS } from '../../src/config.js'
import type { AuthAction } from '../../src/core/auth-actions.js'
import type { HashAlgorithm } from '../../src/core/digests.js'
import type { DownloadRedirect } from '../../src/core/download-redirect.js'
import type { LayoutReport } from '../../src/core/layout.js'
import { AccessControl } from '../../src/http/access-control.js'
import type { PageCache } from '../../src/http/page-cache.js'
import { createAuthServices, createIndexServices, type AuthServices, type IndexServices } from '../../src/services.js'
import { S3DownloadCache } from '../../src/storage/s3-download-cache.js'
import type { S3StorageSpec } from '../../src/storage/open-storage.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { SmallFileCache } from '../../src/storage/small-file-cache.js'
import type { Storage, StorageBackend } from '../../src/storage/storage.js'
import type { IndexService } from '../../src/live-index/index-service.js'
import { UpstreamIndex } from '../../src/upstream/upstream-index.js'
import { resolveUpstreamConfig, type UpstreamFlags } from '../../src/upstream/upstream-settings.js'

/** What buildTestApp gives back. */
export interface TestApp {
  readonly app: FastifyInstance
  readonly services: IndexServices
  readonly security: AuthServices
  readonly report: LayoutReport
  /** Every log record written so far, parsed. */
  readonly logs: Record<string, unknown>[]
}

/** A logger writing JSON records into `records`. */
export function memoryLogger(records: Record<string, unknown>[]): FastifyBaseLogger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') records.push(JSON.parse(line) as Record<string, unknown>)
      }
      callback()
    },
  })
  return pino({ level: 'debug' }, sink)
}

/** Build, load and (optionally) watch an index over `root`; the app is closed after the test. */
export async function buildTestApp(
  t: TestContext,
  options: {
    /** The tree to serve; ignored when `storage` is given. */
    root: string
    /** Open another storage (a bucket) instead of `root`, logging where the app logs. */
    storage?: (logger: FastifyBaseLogger) => Promise<StorageBackend>
    hashAlgorithm?: HashAlgorithm
    /** The /simple/ tree's anchor; by default the same as hashAlgorithm (md5). */
    simpleHashAlgorithm?: HashAlgorithm
    watch?: boolean
    cacheControl?: string
    /** Enable uploads (open to anyone unless `passwords` is given). */
    uploads?: Partial<UploadSettings>
    /** An htpasswd file: the `authenticate` actions need its users. */
    passwords?: string
    authenticate?: readonly AuthAction[]
    authFailureLimit?: number
    /** Wrap the storage the app writes through (to inject failures at the seam). */
    wrapStorage?: (storage: Storage) => Storage
    /** The browse UI's settings, or false to build the app without it (default: on, as the daemon). */
    ui?: UiSettings | false
    /** The page cache (to look at it); default: the app's own. */
    pageCache?: PageCache
    /** --public-url, normalized. */
    publicUrl?: string
    /** --trust-proxy entries. */
    trustProxy?: readonly string[]
    /** --x-accel-redirect, normalized. */
    xAccelRedirect?: string
    /** --download-redirect, parsed. */
    downloadRedirect?: DownloadRedirect
    /** The app's clock (presigned URLs' windows). */
    now?: () => number
    /** Metrics: the index, access control and the app count there (and /metrics is served with an exposition). */
    metrics?: AppMetrics
    /** Upstream indexes around the app's index (--upstream). */
    upstream?: (index: IndexService, logger: FastifyBaseLogger) => UpstreamIndex
    /** Or: upstream indexes (--upstream and its companions, as flags), with their cache in `cacheDir`. */
    upstreamFlags?: UpstreamFlags & { readonly cacheDir: string }
    /** --s3-download-cache and its cap: downloads go through an S3DownloadCache in `dir`. */
    downloadCache?: { readonly dir: string; readonly maxBytes: number }
  },
): Promise<TestApp> {
  const logs: Record<string, unknown>[] = []
  const logger = memoryLogger(logs)
  const hashAlgorithm = options.hashAlgorithm ?? 'md5'
  const simpleHashAlgorithm = options.simpleHashAlgorithm ?? hashAlgorithm
  const storage = await options.storage?.(logger)
  const metrics = options.metrics?.metrics
  const services = await createIndexServices({
    eggdir: options.root,
    hashAlgorithm,
    simpleHashAlgorithm,
    logger,
    ...(storage === undefined ? {} : { storage }),
    ...(metrics === undefined ? {} : { metrics }),
  })
  const report = await services.index.load()
  if (options.watch === true) services.index.watch()
  const security = await createAuthServices({
    passwordFile: options.passwords,
    authFailureLimit: options.authFailureLimit ?? 10,
    logger,
  })
  const access = new AccessControl({
    protect: options.authenticate ?? ['update'],
    authenticator: security.authenticator,
    throttle: security.throttle,
    log: logger,
    ...(metrics === undefined ? {} : { metrics }),
  })
  const uploads =
    options.uploads === undefined ? undefined : { maxBytes: 1024 ** 3, overwrite: false, ...options.uploads }
  const downloads =
    options.downloadCache === undefined
      ? undefined
      : await S3DownloadCache.open({
          ...options.downloadCache,
          storage: services.storage,
          log: logger,
          ...(metrics === undefined ? {} : { metrics }),
        })
  const app = await buildApp({
    index: services.index,
    storage: options.wrapStorage?.(services.storage) ?? services.storage,
    logger,
    hashAlgorithm,
    simpleHashAlgorithm,
    cacheControl: options.cacheControl ?? SETTINGS.cacheControl.defaultValue,
    access,
    ...(uploads === undefined ? {} : { uploads }),
    ...(options.ui === undefined ? {} : { ui: options.ui }),
    ...(options.pageCache === undefined ? {} : { pageCache: options.pageCache }),
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.xAccelRedirect === undefined ? {} : { xAccelRedirect: options.xAccelRedirect }),
    ...(options.downloadRedirect === undefined ? {} : { downloadRedirect: options.downloadRedirect }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(downloads === undefined ? {} : { smallFiles: new SmallFileCache(downloads) }),
    ...(options.upstream === undefined ? {} : { upstream: options.upstream(services.index, logger) }),
    ...(options.upstreamFlags === undefined
      ? {}
      : {
          upstream: new UpstreamIndex({
            index: services.index,
            config: resolveUpstreamConfig(options.upstreamFlags, {}),
            cacheDir: options.upstreamFlags.cacheDir,
            log: logger,
          }),
        }),
  })
  t.after(async () => {
    await app.close()
    await services.close()
    await security.close()
  })
  return { app, services, security, report, logs }
}

/** An app over the bucket `spec` names (no eggdir). */
export function buildBucketApp(
  t: TestContext,
  spec: S3StorageSpec,
  options: Omit<Parameters<typeof buildTestApp>[1], 'root' | 'storage'> = {},
): Promise<TestApp> {
  return buildTestApp(t, {
    root: '/nonexistent',
    storage: (logger: FastifyBaseLogger) => S3Storage.open(spec, logger),
    ...options,
  })
}
