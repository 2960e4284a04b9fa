// The legacy upload API (https://docs.pypi.org/api/upload/): POST /, /legacy/ and /legacy, answered directly
// (twine, poetry and pdm never follow a redirect of a POST).
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import type { HashAlgorithm } from '../../core/digests.js'
import {
  checkRemoveForm,
  checkUploadForm,
  chooseAction,
  digestMismatch,
  DIGEST_MISMATCH,
  field,
  parseUploadFilename,
  type FormFields,
  type Rejection,
} from '../../core/upload-rules.js'
import { NO_METRICS, type CounterMetric, type Metrics } from '../../core/metrics.js'
import { RequestRejected } from '../../errors.js'
import type { Publisher, PublishOutcome } from '../../upload/publisher.js'
import type { receiveForm, ReceivedForm } from '../../upload/receive-form.js'
import type { AccessControl } from '../access-control.js'

/**
 * What accepts uploads: the publisher, and the reader of the multipart form (busboy and the
 * BLAKE2 hasher). Loaded only when uploads are enabled: a read-only server (the default) starts
 * without compiling them (docs/benchmarks.md, "Warm restart").
 */
export interface UploadIntake {
  readonly publisher: Publisher
  readonly receiveForm: typeof receiveForm
}

/** Options of the upload routes. */
export interface UploadRouteOptions {
  /** undefined: uploads are disabled (no --passwords and no --authenticate .). */
  readonly intake: UploadIntake | undefined
  readonly access: AccessControl
  /** --max-upload-size, in bytes. */
  readonly maxUploadBytes: number
  /** Algorithms the index keeps for every file (algorithmsFor(): md5, sha256 and those --hash-algo and --simple-hash-algo name). */
  readonly algorithms: readonly HashAlgorithm[]
  /** An upload that sends nothing for this long is abandoned (default 60 s). */
  readonly idleTimeoutMs?: number
  /** Counts uploads by outcome (default: none kept). */
  readonly metrics?: Metrics
}

/** How an upload API request ended: a publish outcome, a removal, or refused (4xx) or failed (5xx). */
type UploadOutcome = PublishOutcome | 'removed' | 'rejected' | 'failed'

/** The upload URLs: pypiserver's `/` and Warehouse's `/legacy/`. */
export const UPLOAD_URLS: readonly string[] = ['/', '/legacy', '/legacy/']

const DISABLED = 'Uploads are disabled: start eggserve with --passwords FILE (or --authenticate . to let anyone upload)'

/** Routes of the upload API. */
export const uploadRoutes: FastifyPluginCallback<UploadRouteOptions> = (app, options, done) => {
  const { intake } = options
  const outcomes = (options.metrics ?? NO_METRICS).counter<'outcome'>({
    name: 'eggserve_uploads_total',
    help: 'Upload API requests past authentication, by outcome: created, replaced (--overwrite), identical (already there), removed (remove_pkg), rejected (4xx), failed (5xx)',
    labelNames: ['outcome'],
  })
  // The multipart body is read by the handler as it arrives, never by Fastify (which would
  // buffer it, under bodyLimit). remove_pkg and submit may also come URL-encoded (curl -d).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('multipart/form-data', (_request, _payload, parsed) => {
    parsed(null)
  })
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_request, body, parsed) => {
      parsed(null, new URLSearchParams(String(body)))
    },
  )
  const onRequest =
    intake === undefined
      ? [() => Promise.reject(new RequestRejected('EGGSERVE_UPLOADS_DISABLED', DISABLED, { allow: 'GET, HEAD' }))]
      : options.access.hooks('update')
  for (const url of UPLOAD_URLS) {
    app.post(url, { onRequest }, async (request, reply) => {
      if (intake === undefined) throw new RequestRejected('EGGSERVE_UPLOADS_DISABLED', DISABLED, { allow: 'GET, HEAD' })
      try {
        return await handle(request, reply, { ...options, ...intake, outcomes })
      } catch (err) {
        const status =
          typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number'
            ? err.statusCode
            : 500
        count(outcomes, status < 500 ? 'rejected' : 'failed')
        throw err
      }
    })
  }
  done()
}

type Handling = UploadRouteOptions & UploadIntake & { outcomes: CounterMetric<'outcome'> }

function count(outcomes: CounterMetric<'outcome'>, outcome: UploadOutcome): void {
  outcomes.inc({ outcome })
}

async function handle(request: FastifyRequest, reply: FastifyReply, options: Handling): Promise<FastifyReply> {
  const { publisher } = options
  const queryAction = queryValue(request.query, ':action')
  if (!isMultipart(request.headers['content-type'])) {
    // URL-encoded (remove_pkg, submit with curl -d), or no body at all (?:action=submit).
    const fields = request.body instanceof URLSearchParams ? searchFields(request.body) : new Map<string, string[]>()
    return act(request, reply, { ...options, fields, form: undefined, queryAction })
  }
  // A filename refused while the action was still unknown: the action decides (doc_upload's 410 comes first).
  let refusedFile: RequestRejected | undefined
  const form = await options.receiveForm(request.raw, {
    maxFileBytes: options.maxUploadBytes,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    algorithms: options.algorithms,
    openContent: async (filename, fields) => {
      // Warehouse answers doc_upload with 410 whatever its file is (setuptools' upload_docs
      // sends "<name>.zip", which is no distribution filename).
      const chosen = chooseAction(fields, queryAction)
      if (!chosen.ok && chosen.status === 410) throw rejected(chosen)
      const read = parseUploadFilename(filename, field(fields, 'name'))
      if (read.ok) return publisher.open(read.parsed.project)
      if (field(fields, ':action') !== undefined || queryAction !== undefined) throw rejected(read)
      // The action may follow the file: its bytes are dropped, and the action decides.
      refusedFile = rejected(read)
      return undefined
    },
  })
  try {
    return await act(request, reply, { ...options, fields: form.fields, form, queryAction, refusedFile })
  } finally {
    // Drops the temporary file unless it was published.
    await form.content?.upload.abort()
  }
}

async function act(
  request: FastifyRequest,
  reply: FastifyReply,
  input: Handling & {
    fields: FormFields
    form: ReceivedForm | undefined
    queryAction: string | undefined
    refusedFile?: RequestRejected | undefined
  },
): Promise<FastifyReply> {
  const { publisher, fields, form } = input
  const chosen = chooseAction(fields, input.queryAction)
  if (!chosen.ok) throw rejected(chosen)
  switch (chosen.action) {
    case 'submit':
    case 'verify':
      // Registering is not needed (pypiserver answers 200 too): projects exist once a file does.
      return text(reply, 'OK')
    case 'remove_pkg': {
      const release = checkRemoveForm(fields)
      if (!release.ok) throw rejected(release)
      const removed = await publisher.removeRelease(release.name, release.version)
      request.log.info(
        { user: input.access.userOf(request), name: release.name, version: release.version, removed },
        'Release removed',
      )
      count(input.outcomes, 'removed')
      return text(reply, `Removed ${removed.join(', ')}`)
    }
    case 'doc_upload':
    case 'file_upload':
      break
  }
  if (input.refusedFile !== undefined) throw input.refusedFile
  const content = form?.content
  const checked = checkUploadForm({ fields, filename: content?.filename, signatureFilename: form?.signature?.filename })
  if (!checked.ok) throw rejected(checked)
  if (content === undefined) throw new RequestRejected('EGGSERVE_BAD_UPLOAD', 'Upload payload does not have a file.')
  const mismatch = digestMismatch(checked.expected, content.digests)
  if (mismatch !== undefined) throw new RequestRejected('EGGSERVE_BAD_UPLOAD', DIGEST_MISMATCH)
  const published = await publisher.publish({
    parsed: checked.parsed,
    file: content,
    signature: form?.signature?.bytes,
    uploader: input.access.userOf(request),
  })
  count(input.outcomes, published.outcome)
  request.log.info(
    {
      user: input.access.userOf(request),
      key: published.key,
      outcome: published.outcome,
      size: content.size,
      sha256: content.digests.sha256,
    },
    published.outcome === 'identical' ? 'Upload identical to the stored file: nothing changed' : 'Upload stored',
  )
  return text(reply, published.outcome === 'identical' ? 'OK: the same file was already there; nothing changed' : 'OK')
}

function text(reply: FastifyReply, body: string): FastifyReply {
  return reply.code(200).type('text/plain; charset=utf-8').send(`${body}\n`)
}

function rejected(rejection: Rejection): RequestRejected {
  return new RequestRejected(rejection.status === 410 ? 'EGGSERVE_GONE' : 'EGGSERVE_BAD_UPLOAD', rejection.reason)
}

function isMultipart(contentType: string | undefined): boolean {
  return contentType !== undefined && /^multipart\/form-data\s*(;|$)/i.test(contentType)
}

function searchFields(params: URLSearchParams): FormFields {
  const fields = new Map<string, string[]>()
  for (const [name, value] of params) fields.set(name, [...(fields.get(name) ?? []), value])
  return fields
}

function queryValue(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null || !(name in query)) return undefined
  const value: unknown = (query as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}
