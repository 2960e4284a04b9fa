// The composition root of the HTTP server. It never listens: only the daemon does.
import proxyAddr from '@fastify/proxy-addr'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { FailureThrottle } from './auth/throttle.js'
import { privateCacheControl } from './core/cache-control.js'
import { algorithmsFor, type HashAlgorithm } from './core/digests.js'
import type { DownloadRedirect } from './core/download-redirect.js'
import { AccessControl } from './http/access-control.js'
import { redirectorFor } from './http/download-redirect.js'
import { registerAccessLog } from './http/access-log.js'
import { frameworkErrors, registerErrorHandling } from './http/error-handler.js'
import { registerExpectContinue } from './http/expect-continue.js'
import { PageCache } from './http/page-cache.js'
import { registerRequestGuard } from './http/request-guard.js'
import { lazySchemaController } from './http/lazy-schema-compilers.js'
import { lazyChildLogger } from './http/request-logger.js'
import { registerRequestMetrics } from './http/request-metrics.js'
import { ResponseOverController } from './http/response-over.js'
import { healthRoutes } from './http/routes/health.js'
import type { Readiness } from './live-index/background.js'
import { pypiJsonRoutes } from './http/routes/pypi-json.js'
import type { IndexRouteOptions } from './http/routes/route-options.js'
import { legacyRoutes } from './http/routes/legacy.js'
import { metricsRoutes } from './http/routes/metrics.js'
import { simpleRoutes } from './http/routes/simple.js'
import { uploadRoutes, type UploadIntake } from './http/routes/upload.js'
import { uiRoutes, type UiSettings } from './http/routes/ui.js'
import { registerBrowserHome } from './http/ui/browser-home.js'
import type { IndexService } from './live-index/index-service.js'
import { CoreMetadataStore } from './live-index/metadata-store.js'
import { SmallFileCache } from './storage/small-file-cache.js'
import { cacheMeter, NO_METRICS, type Exposition, type Metrics } from './core/metrics.js'
import type { Storage } from './storage/storage.js'
import type { PublisherOptions } from './upload/publisher.js'
import type { UpstreamIndex } from './upstream/upstream-index.js'
import { upstreamFileRoutes } from './http/routes/upstream.js'
import { UploaderLog, type UploaderRecord } from './upload/uploader-log.js'

/**
 * Project folders whose original URL (/<folder>/) is taken by a fixed route. They stay
 * reachable under /simple/<project>/ and /packages/<folder>/; the daemon warns at start-up.
 */
export const SHADOWED_FOLDERS: readonly string[] = ['simple']

/** Upload settings; absent when uploads are disabled. */
export interface UploadSettings {
  /** --max-upload-size, in bytes. */
  readonly maxBytes: number
  /** --overwrite. */
  readonly overwrite: boolean
  /** An upload that sends nothing for this long is abandoned (default 60 s). */
  readonly idleTimeoutMs?: number
}

/** Metrics settings of the app (--metrics, --metrics-listen). */
export interface AppMetrics {
  /** Where requests, caches and uploads are counted. */
  readonly metrics: Metrics
  /** Served at /metrics on this listener; absent when metrics have their own address. */
  readonly exposition?: Exposition | undefined
}

/** Everything the app needs, built by the daemon (or a test). */
export interface AppDependencies {
  readonly index: IndexService
  readonly storage: Storage
  readonly logger: FastifyBaseLogger
  /** Algorithm of the link fragments of the original tree (`/`, `/<folder>/`), and of /simple/ unless the next is given. */
  readonly hashAlgorithm: HashAlgorithm
  /** Algorithm of the link fragments of the PEP 503 tree (`/simple/`). */
  readonly simpleHashAlgorithm?: HashAlgorithm
  /** Cache-Control of pages and API documents (`--cache-control`). */
  readonly cacheControl: string
  /** What /health/ready reports; by default, ready once the index is loaded. */
  readonly readiness?: () => Readiness
  /** Who may do what; default: everything open (and uploads, if enabled, open to anyone). */
  readonly access?: AccessControl
  /** Enables the upload API. */
  readonly uploads?: UploadSettings
  /** The browse UI under /-/ (default: on, with its defaults); false turns it off (`--ui off`). */
  readonly ui?: UiSettings | false
  /** Who uploaded which file (default: remembered in memory only). */
  readonly uploaders?: UploaderRecord
  /** The rendered-page cache; default: one of 32 MiB. */
  readonly pageCache?: PageCache
  /** --public-url, normalized (ends in "/"): the base of the JSON API's absolute URLs. */
  readonly publicUrl?: string | undefined
  /** --trust-proxy: addresses and CIDR ranges whose X-Forwarded-Proto, -Host and -Prefix are believed. */
  readonly trustProxy?: readonly string[]
  /** Upstream indexes behind the local one (--upstream), wrapping `index`. */
  readonly upstream?: UpstreamIndex
  /** --x-accel-redirect: the internal nginx location downloads are handed to (normalized, no trailing "/"). */
  readonly xAccelRedirect?: string | undefined
  /** --download-redirect: answer downloads with a redirect to the store or a mirror of the tree. */
  readonly downloadRedirect?: DownloadRedirect | undefined
  /** The clock of presigned URLs' windows (default Date.now). */
  readonly now?: () => number
  /** Small files kept in memory for downloads; default: a SmallFileCache over `storage` with its defaults. */
  readonly smallFiles?: SmallFileCache
  /** Metrics (default: off, nothing recorded and no /metrics). */
  readonly metrics?: AppMetrics
  /** --tls-cert/--tls-key: serve HTTPS (HTTP/1.1 over TLS) with this certificate chain and key (PEM). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer }
}

/** The size limit of an app without uploads (never used: every upload is refused first). */
const NO_UPLOADS = 0

/** Build the Fastify app with every route registered; call `listen()` yourself (or `inject()`). */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  // One compiled list serves Fastify (request.ip, .protocol, .host) and X-Forwarded-Prefix.
  const trusted =
    deps.trustProxy === undefined || deps.trustProxy.length === 0 ? undefined : proxyAddr.compile([...deps.trustProxy])
  // Hears every request's start and end: the access log and the request metrics record there.
  const responses = new ResponseOverController()
  const app = Fastify({
    loggerInstance: deps.logger,
    // One access-log line per request (registerAccessLog) instead of Fastify's two.
    logController: responses,
    // request.log is made when a request logs, not for every request.
    childLoggerFactory: lazyChildLogger,
    // No route has a schema: ajv and fast-json-stringify are loaded only if one ever does.
    schemaController: lazySchemaController(),
    routerOptions: {
      // find-my-way's default maxParamLength of 100 characters 404s real wheel filenames.
      maxParamLength: 2048,
    },
    // Slow clients must not hold a request open for ever; downloads themselves are not limited.
    // An upload may take as long as its bytes keep coming: its own idle timeout watches it.
    requestTimeout: deps.uploads === undefined ? 30_000 : 0,
    connectionTimeout: 0,
    keepAliveTimeout: 5_000,
    // Idle keep-alive sockets close at once on shutdown; busy ones finish their download.
    forceCloseConnections: 'idle',
    // A request on a connection accepted before the stop is served (with Connection: close),
    // not refused with 503: with socket activation the next eggserve takes the new connections
    // from the same socket, so a restart loses no request (docs/systemd.md).
    return503OnClosing: false,
    frameworkErrors,
    ...(trusted === undefined ? {} : { trustProxy: trusted }),
    ...(deps.https === undefined ? {} : { https: { cert: deps.https.cert, key: deps.https.key } }),
  })

  registerAccessLog(app, responses)
  // The Host check, the headers of every response and CORS: one onRequest hook.
  registerRequestGuard(app)
  registerErrorHandling(app)
  registerExpectContinue(app)
  const metrics = deps.metrics?.metrics ?? NO_METRICS
  // Metrics off: nothing is recorded per request.
  if (metrics.enabled) registerRequestMetrics(responses, metrics)
  const access = deps.access ?? AccessControl.open(deps.logger, new FailureThrottle({ limit: 0 }))
  const metadata = new CoreMetadataStore({
    storage: deps.storage,
    log: deps.logger,
    meter: cacheMeter(metrics, 'metadata'),
  })
  const filesCacheControl = access.protects('download') ? 'private' : undefined
  const routeOptions: IndexRouteOptions = {
    index: deps.index,
    storage: deps.storage,
    files: deps.smallFiles ?? new SmallFileCache(deps.storage),
    offload: deps.xAccelRedirect,
    hashAlgorithm: deps.hashAlgorithm,
    simpleHashAlgorithm: deps.simpleHashAlgorithm ?? deps.hashAlgorithm,
    metadata,
    // RFC 9111 §5.2.2.7: what needs credentials must not be kept by shared caches.
    pages: {
      cache: deps.pageCache ?? new PageCache(undefined, cacheMeter(metrics, 'page')),
      cacheControl: access.protects('list') ? privateCacheControl(deps.cacheControl) : deps.cacheControl,
    },
    access,
    filesCacheControl,
    urls: { publicUrl: deps.publicUrl, trusted },
    upstream: deps.upstream,
    redirect:
      deps.downloadRedirect === undefined
        ? undefined
        : redirectorFor(deps.downloadRedirect, deps.storage, { now: deps.now ?? Date.now, filesCacheControl }),
  }
  const algorithms = algorithmsFor(routeOptions.hashAlgorithm, routeOptions.simpleHashAlgorithm)
  const uploaders = deps.uploaders ?? UploaderLog.memory(deps.logger)
  const intake =
    deps.uploads === undefined
      ? undefined
      : await uploadIntake({
          storage: deps.storage,
          index: deps.index,
          metadata,
          algorithms,
          overwrite: deps.uploads.overwrite,
          uploaders,
        })
  const exposition = deps.metrics?.exposition
  if (exposition !== undefined) {
    // Metrics tell how busy the index is and how many logins fail: they need credentials
    // whenever reading the index does (on their own address, the network keeps them private).
    const reads = access.protects('list') ? access.hooks('list') : access.hooks('download')
    await app.register(metricsRoutes, { exposition, onRequest: reads })
  }
  await app.register(
    healthRoutes,
    deps.readiness === undefined ? { index: deps.index } : { index: deps.index, readiness: deps.readiness },
  )
  await app.register(simpleRoutes, routeOptions)
  if (deps.upstream !== undefined) await app.register(upstreamFileRoutes, { ...routeOptions, upstream: deps.upstream })
  const upstream = deps.upstream
  // Its watch of the purge log ends with the server.
  if (upstream !== undefined)
    app.addHook('onClose', (_instance, done) => {
      upstream.close()
      done()
    })
  await app.register(pypiJsonRoutes, routeOptions)
  // Before the route of `/`, which it adds its check to.
  if (deps.ui !== false) registerBrowserHome(app)
  await app.register(legacyRoutes, routeOptions)
  if (deps.ui !== false) await app.register(uiRoutes, { ...routeOptions, ui: deps.ui ?? {}, uploaders, prefix: '/-' })
  await app.register(uploadRoutes, {
    intake,
    access,
    maxUploadBytes: deps.uploads?.maxBytes ?? NO_UPLOADS,
    algorithms,
    metrics,
    ...(deps.uploads?.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: deps.uploads.idleTimeoutMs }),
  })
  return app
}

/**
 * The publisher and the form reader, loaded only when uploads are enabled: a read-only server
 * (the default) starts without compiling busboy, the BLAKE2 hasher and the upload checks
 * (docs/benchmarks.md, "Warm restart").
 */
async function uploadIntake(options: PublisherOptions): Promise<UploadIntake> {
  const [{ Publisher }, { receiveForm }] = await Promise.all([
    import('./upload/publisher.js'),
    import('./upload/receive-form.js'),
  ])
  return { publisher: new Publisher(options), receiveForm }
}
