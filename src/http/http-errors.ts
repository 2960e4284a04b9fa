// Errors that map to HTTP statuses, with messages safe to show to clients.
import { AppError } from '../errors.js'

/** 404: the index does not know this project or file. */
export class NotFoundError extends AppError {
  constructor (message = 'Not Found') {
    super('EGGSERVE_NOT_FOUND', message, { statusCode: 404 })
  }
}

/** Stable codes of refused requests (README "Error codes"). */
export type RejectionCode =
  | 'EGGSERVE_BAD_UPLOAD'
  | 'EGGSERVE_FILE_EXISTS'
  | 'EGGSERVE_GONE'
  | 'EGGSERVE_TOO_LARGE'
  | 'EGGSERVE_UPLOAD_TIMEOUT'
  | 'EGGSERVE_UPLOAD_ABORTED'
  | 'EGGSERVE_UPLOADS_DISABLED'
  | 'EGGSERVE_UNAUTHORIZED'
  | 'EGGSERVE_THROTTLED'
  | 'EGGSERVE_AUTH_BUSY'

const STATUS: Readonly<Record<RejectionCode, number>> = {
  EGGSERVE_BAD_UPLOAD: 400,
  EGGSERVE_FILE_EXISTS: 409,
  EGGSERVE_GONE: 410,
  EGGSERVE_TOO_LARGE: 413,
  EGGSERVE_UPLOAD_TIMEOUT: 408,
  EGGSERVE_UPLOAD_ABORTED: 400,
  EGGSERVE_UPLOADS_DISABLED: 405,
  EGGSERVE_UNAUTHORIZED: 401,
  EGGSERVE_THROTTLED: 429,
  EGGSERVE_AUTH_BUSY: 503,
}

/**
 * A request eggserve refuses, with a one-line reason that goes into the body and the
 * reason phrase (twine, poetry and pdm print it), and the headers the refusal needs (WWW-Authenticate, Retry-After, Allow).
 */
export class RequestRejected extends AppError {
  readonly headers: Readonly<Record<string, string>>

  constructor (code: RejectionCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(code, message, { statusCode: STATUS[code], expose: true })
    this.headers = headers
  }
}
