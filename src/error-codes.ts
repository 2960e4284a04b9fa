// The registry of eggserve's error codes, modelled on fastify's lib/errors.js: every error
// eggserve raises on purpose carries one of these codes, so a misspelt code does not compile.
// docs/errors.md is generated from this table (npm run docs:errors) and a test keeps the two equal.

/** What a code means for clients, for the operator and for the exit status. */
export interface ErrorSpec {
  /** The HTTP status of a request that fails with it; absent for failures no request can meet. */
  readonly status?: number
  /**
   * Whether the message may be sent to HTTP clients. Client errors (4xx) always may; a 5xx
   * message may only when it names no path, bucket, key or secret (else the edge masks it).
   */
  readonly expose: boolean
  /** The Retry-After (in seconds) of a transient failure (RFC 9110 §10.2.3). */
  readonly retryAfterSeconds?: number
  /** The exit status when it stops start-up or a command (README "Exit codes"); 1 when absent. */
  readonly exit?: 1 | 2
  /** One line for docs/errors.md. */
  readonly description: string
}

/** Every code, in the order docs/errors.md lists them. */
export const ERRORS = {
  // Start-up and commands.
  EGGSERVE_CONFIG: { expose: false, exit: 2, description: 'A bad flag or environment value.' },
  EGGSERVE_LAYOUT: { expose: false, exit: 1, description: 'The eggdir is missing, unreadable or badly laid out.' },
  EGGSERVE_LISTEN: {
    expose: false,
    exit: 1,
    description: 'The server could not listen (port in use, address not available).',
  },
  EGGSERVE_TLS: {
    expose: false,
    exit: 1,
    description:
      'The TLS certificate or key (`--tls-cert`, `--tls-key`) cannot be read or used (at start-up; at a SIGHUP reload the old certificate stays).',
  },
  EGGSERVE_LOG_FILE: { expose: false, exit: 1, description: 'The log file cannot be opened.' },
  EGGSERVE_CACHE_DIR: {
    expose: false,
    exit: 1,
    description:
      "`eggserve warm`'s cache directory cannot be made or written (the server only logs this and runs without the cache).",
  },
  EGGSERVE_PASSWORDS: {
    expose: false,
    exit: 1,
    description:
      'The password file is missing, unreadable, or holds a refused entry (at start-up; at a reload the old users stay).',
  },

  // Reading the index and its files.
  EGGSERVE_NOT_FOUND: { status: 404, expose: true, description: 'No such project, release or file in the index.' },
  EGGSERVE_FILE_GONE: {
    status: 404,
    expose: true,
    description:
      'A listed file disappeared before it could be read. A page being listed leaves it out (with a `Leaving a file out of the listing` error record) and the warm-up skips it (a `debug` record); a request that needs that very file (an upload checking the file it collides with) gets the 404.',
  },
  EGGSERVE_STORAGE: {
    status: 500,
    expose: false,
    description:
      'A filesystem or store error other than "not there", such as `EACCES` or `EIO` (the message, which may name a path, stays in the log; at start-up, exit 1).',
  },
  EGGSERVE_ANALYSIS: {
    status: 500,
    expose: false,
    description:
      'A worker thread failed while reading a file, or reading was stopped by a shutdown; a page being listed leaves the file out (and logs it).',
  },

  // Uploads and logins.
  EGGSERVE_BAD_UPLOAD: {
    status: 400,
    expose: true,
    description: 'An upload or action breaks a rule (filename, form, digest, archive, signature, action).',
  },
  EGGSERVE_UPLOAD_ABORTED: {
    status: 400,
    expose: true,
    description:
      'The client went away before the upload was complete (no answer reaches it; its request line says `aborted`; nothing is kept).',
  },
  EGGSERVE_UNAUTHORIZED: { status: 401, expose: true, description: 'Credentials missing or wrong.' },
  EGGSERVE_UPLOADS_DISABLED: { status: 405, expose: true, description: 'An upload while uploads are disabled.' },
  EGGSERVE_UPLOAD_TIMEOUT: { status: 408, expose: true, description: 'An upload sent nothing for 60 s.' },
  EGGSERVE_FILE_EXISTS: { status: 409, expose: true, description: 'A file of that name exists with different bytes.' },
  EGGSERVE_GONE: { status: 410, expose: true, description: '`doc_upload`.' },
  EGGSERVE_TOO_LARGE: { status: 413, expose: true, description: 'The file is over `--max-upload-size`.' },
  EGGSERVE_THROTTLED: { status: 429, expose: true, description: 'Too many failed logins from one address.' },
  EGGSERVE_AUTH_BUSY: { status: 503, expose: true, description: 'Too many logins waiting for the password worker.' },

  // Writes the operator can fix: the message names no path, so uploaders see why.
  EGGSERVE_READ_ONLY: { status: 500, expose: true, description: 'The eggdir is on a read-only filesystem (`EROFS`).' },
  EGGSERVE_WRITE_DENIED: {
    status: 500,
    expose: true,
    description: 'eggserve may not write the eggdir (`EACCES`, `EPERM`).',
  },
  // RFC 4918 §11.5: 507 Insufficient Storage.
  EGGSERVE_DISK_FULL: { status: 507, expose: true, description: 'The disk or quota is full (`ENOSPC`, `EDQUOT`).' },

  // An object store (S3) failing; the message names no bucket, key, endpoint or credential.
  // At start-up each of these stops the server (exit 1, the code in the message).
  EGGSERVE_STORE_THROTTLED: {
    status: 503,
    expose: true,
    retryAfterSeconds: 2,
    exit: 1,
    description: 'The object store kept throttling after the retries.',
  },
  EGGSERVE_STORE_UNAVAILABLE: {
    status: 503,
    expose: true,
    retryAfterSeconds: 5,
    exit: 1,
    description: 'The object store is unreachable, timing out or failing (`5xx`) after the retries.',
  },
  EGGSERVE_STORE_DENIED: {
    status: 500,
    expose: true,
    exit: 1,
    description: "The object store refused the server's credentials (or found none).",
  },
  EGGSERVE_STORE_MISSING: { status: 500, expose: true, exit: 1, description: 'The bucket does not exist.' },
  EGGSERVE_STORE_CONFIG: { status: 500, expose: true, exit: 1, description: 'No AWS region is configured.' },
  EGGSERVE_STORE_UNSAFE: {
    status: 503,
    expose: true,
    description:
      'An upload refused because the object store ignores create-only writes (`If-None-Match: *`) and `--s3-writers` is `many`: two servers could publish one filename with different bytes. Give `--s3-writers one` to the single server that accepts uploads.',
  },

  // Upstream indexes (--upstream, docs/upstream.md); the message names no upstream URL or credential.
  // PEP 766: a failed upstream is a 503, never a 404, so clients do not go on to another index.
  EGGSERVE_UPSTREAM_UNAVAILABLE: {
    status: 503,
    expose: true,
    retryAfterSeconds: 30,
    description:
      'No upstream could be asked (refused, timed out, `5xx`, circuit breaker open) and no usable page or file is cached.',
  },
  EGGSERVE_UPSTREAM_BAD_FILE: {
    status: 502,
    expose: true,
    description:
      'The upstream answered a file request with an error, or sent bytes that do not match the hash on its page (nothing is kept).',
  },
  EGGSERVE_UPSTREAM_OFFLINE: {
    status: 503,
    expose: true,
    retryAfterSeconds: 30,
    description:
      "`--offline` (or the upstream's own `offline` in the configuration file), and the project or file is not in the cache.",
  },
  EGGSERVE_UPSTREAM_COOLDOWN: {
    status: 403,
    expose: true,
    description:
      'An upstream file (or its `.metadata`) younger than the minimum release age (`--min-release-age`), judged by its PEP 700 `upload-time`, or one without an `upload-time` while such files are held back; the message says when it becomes available.',
  },
} as const satisfies Readonly<Record<`EGGSERVE_${string}`, ErrorSpec>>

/** A code of the registry: anything else is a compile error. */
export type ErrorCode = keyof typeof ERRORS

/** True when `code` is in the registry (for codes that crossed a thread boundary as strings). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code)
}

/** The spec of `code`, typed as the common shape (the table's entries are literal types). */
export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERRORS[code]
}
