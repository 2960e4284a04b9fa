// Errors that map to HTTP statuses, with messages safe to show to clients.
import { AppError } from '../errors.js'

/** 404: the index does not know this project or file. */
export class NotFoundError extends AppError {
  constructor (message = 'Not Found') {
    super('EGGSERVE_NOT_FOUND', message, { statusCode: 404 })
  }
}
