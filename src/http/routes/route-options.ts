// What the index route plugins are given (typed plugin options, no decorators).
import type { HashAlgorithm } from '../../core/digests.js'
import type { IndexService } from '../../live-index/index-service.js'
import type { CoreMetadataStore } from '../../live-index/metadata-store.js'
import type { Storage } from '../../storage/storage.js'
import type { UpstreamIndex } from '../../upstream/upstream-index.js'
import type { AccessControl } from '../access-control.js'
import type { Redirector } from '../download-redirect.js'
import type { DownloadFiles } from '../download.js'
import type { PageOptions } from '../page-response.js'
import type { UrlPolicy } from '../public-base.js'

/** Options of the page and download route plugins. */
export interface IndexRouteOptions {
  readonly index: IndexService
  readonly storage: Storage
  /** Where downloads are opened: the storage, or a cache of small files in front of it. */
  readonly files: DownloadFiles
  /** --x-accel-redirect: the internal nginx location downloads are handed to. */
  readonly offload: string | undefined
  /** --download-redirect: downloads answered with a redirect to the store or a mirror of the tree. */
  readonly redirect?: Redirector | undefined
  readonly metadata: CoreMetadataStore
  readonly pages: PageOptions
  /** Algorithm of the `#<algo>=<hex>` link fragments of the original tree (`/`, `/<folder>/`). */
  readonly hashAlgorithm: HashAlgorithm
  /** Algorithm of the `#<algo>=<hex>` link fragments of the PEP 503 tree (`/simple/`). */
  readonly simpleHashAlgorithm: HashAlgorithm
  /** Who may list and download (the `list` and `download` hooks go on the routes). */
  readonly access: AccessControl
  /** Cache-Control of downloads: `private` when they need credentials, else none. */
  readonly filesCacheControl: string | undefined
  /** How the JSON API's absolute URLs are made (--public-url, --trust-proxy). */
  readonly urls: UrlPolicy
  /** The upstream indexes and the name rule (--upstream); absent: the local index alone. */
  readonly upstream?: UpstreamIndex | undefined
}
