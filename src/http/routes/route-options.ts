// What the index route plugins are given (typed plugin options, no decorators).
import type { HashAlgorithm } from '../../core/digests.js'
import type { IndexService } from '../../index/index-service.js'
import type { Storage } from '../../storage/storage.js'

/** Options of the page and download route plugins. */
export interface IndexRouteOptions {
  readonly index: IndexService
  readonly storage: Storage
  /** Algorithm of the `#<algo>=<hex>` link fragments. */
  readonly hashAlgorithm: HashAlgorithm
}
