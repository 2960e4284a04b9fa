// Publishing a received upload into the index (duplicates as Warehouse answers them, signatures), and removing a
// release (pypiserver's remove_pkg). The facts the index keeps of a new file (digests, core
// metadata) come from the upload itself, so publishing never reads the published file again.
import { readUploadedMetadata } from '../archives/upload-archive.js'
import type { DistFile, FileFacts } from '../core/index-model.js'
import { distributionKey, type ParsedDistFilename } from '../core/filenames.js'
import type { HashAlgorithm } from '../core/digests.js'
import { parseCoreMetadata } from '../core/metadata.js'
import { metadataFacts } from '../core/metadata-facts.js'
import { SIGNATURE_SUFFIX } from '../core/signatures.js'
import { checkUploadedMetadata, sameVersion } from '../core/upload-rules.js'
import { YANK_SUFFIX } from '../core/yanking.js'
import { NotFoundError, RequestRejected } from '../errors.js'
import type { IndexService } from '../live-index/index-service.js'
import type { CoreMetadataStore } from '../live-index/metadata-store.js'
import { makeKey, type PendingUpload, type Storage, type StoredFile } from '../storage/storage.js'
import type { ReceivedFile } from './receive-form.js'
import type { UploaderRecord } from './uploader-log.js'

/** What an upload did: a new file, a file replaced (--overwrite), or nothing (the same bytes were there). */
export type PublishOutcome = 'created' | 'replaced' | 'identical'

/** Dependencies of a Publisher. */
export interface PublisherOptions {
  readonly storage: Storage
  readonly index: IndexService
  readonly metadata: CoreMetadataStore
  /** Algorithms the index keeps for every file (algorithmsFor(): md5, sha256 and those --hash-algo and --simple-hash-algo name). */
  readonly algorithms: readonly HashAlgorithm[]
  /** --overwrite: replace a file with different bytes instead of refusing with 409. */
  readonly overwrite: boolean
  /** Where who uploaded what is remembered, for the browse UI. */
  readonly uploaders?: UploaderRecord
}

/** Puts received uploads in place and takes releases out. */
export class Publisher {
  readonly #storage: Storage
  readonly #index: IndexService
  readonly #metadata: CoreMetadataStore
  readonly #algorithms: readonly HashAlgorithm[]
  readonly #overwrite: boolean
  readonly #uploaders: UploaderRecord | undefined

  constructor(options: PublisherOptions) {
    this.#storage = options.storage
    this.#index = options.index
    this.#metadata = options.metadata
    this.#algorithms = options.algorithms
    this.#overwrite = options.overwrite
    this.#uploaders = options.uploaders
  }

  /** The folder of a project: the existing one whose name normalizes to it, else the normalized name. */
  async folderFor(project: string): Promise<string> {
    return (await this.#index.findProject(project))?.folder ?? project
  }

  /** Open the temporary file of an upload of `project`, next to where it will be published. */
  async open(project: string): Promise<PendingUpload> {
    return this.#storage.createUpload(await this.folderFor(project))
  }

  /**
   * Publish a received, checked upload. Identical bytes already there: nothing changes
   * ('identical'). Different bytes: 409, unless --overwrite. The temporary file is the caller's
   * to abort afterwards (a no-op once published).
   */
  async publish(input: {
    parsed: ParsedDistFilename
    file: ReceivedFile
    signature: Buffer | undefined
    uploader?: string | undefined
  }): Promise<{ outcome: PublishOutcome; key: string; folder: string }> {
    const { parsed, file } = input
    const folder = await this.folderFor(parsed.project)
    const stored = await this.#storedSpelling(parsed, file.filename)
    const key = makeKey(folder, stored)
    const metadataBytes = await this.#readMetadata(parsed, file)
    const facts: FileFacts = {
      digests: Object.fromEntries(this.#algorithms.map((algorithm) => [algorithm, file.digests.digests[algorithm]])),
      ...(metadataBytes === undefined ? {} : { metadata: metadataFacts(metadataBytes) }),
    }
    if (this.#overwrite && (await this.#existingSha256(key, parsed)) === file.digests.sha256) {
      await this.#completeSignature(key, folder, input.signature)
      return { outcome: 'identical', key, folder }
    }
    const committed = await file.upload.commit(key, { replace: this.#overwrite, facts })
    if (committed.outcome === 'exists') {
      const existing = await this.#existingSha256(key, parsed)
      if (existing === file.digests.sha256) {
        await this.#completeSignature(key, folder, input.signature)
        return { outcome: 'identical', key, folder }
      }
      throw new RequestRejected(
        'EGGSERVE_FILE_EXISTS',
        `File already exists ('${stored}', with sha256 hash ${existing ?? 'unknown'}); different contents are refused`,
      )
    }
    // Before the index hears of the file, so its first page can name the uploader.
    if (input.uploader !== undefined)
      this.#uploaders?.record({ identity: committed.file.identity, key, user: input.uploader })
    await this.#index.published(folder, committed.file.identity, facts)
    if (metadataBytes !== undefined) this.#metadata.remember(committed.file.identity, metadataBytes)
    if (input.signature !== undefined) await this.#writeSignature(key, folder, input.signature)
    // A replaced file's old signature signs other bytes.
    else if (committed.outcome === 'replaced') await this.#storage.remove(key + SIGNATURE_SUFFIX)
    return { outcome: committed.outcome, key, folder }
  }

  /**
   * Remove every file of a release (pypiserver's remove_pkg), with its signature and yank
   * sidecars, and the project folder when nothing is left in it. Returns the removed filenames.
   */
  async removeRelease(name: string, version: string): Promise<string[]> {
    const found = await this.#index.findProject(name)
    const files = found === undefined ? [] : found.files.filter((file) => sameVersion(file.parsed.version, version))
    if (found === undefined || files.length === 0) throw new NotFoundError(`${name} (${version}) not found`)
    const removed: string[] = []
    for (const file of files) {
      if (await this.#storage.remove(file.key)) removed.push(file.filename)
      await this.#storage.remove(file.key + SIGNATURE_SUFFIX)
      await this.#storage.remove(file.key + YANK_SUFFIX)
    }
    await this.#storage.removeFolderIfEmpty(found.folder)
    await this.#index.changed(found.folder)
    return removed
  }

  // The archive is checked and its metadata read from the temporary file by random access
  // before it is published (a zip's records, a tarball's member headers). The digests were
  // computed while the upload streamed in; the published file is never read.
  async #readMetadata(parsed: ParsedDistFilename, file: ReceivedFile): Promise<Buffer | undefined> {
    const source = {
      size: file.size,
      createReadStream: (range: { start: number; end: number }) => file.upload.createReadStream(range),
    }
    const read = await readUploadedMetadata(source, parsed, file.filename)
    // .tar.bz2 and .tar.xz: accepted unread (Node has no bzip2 or xz).
    if (read === undefined) return undefined
    if (!read.ok) throw new RequestRejected('EGGSERVE_BAD_UPLOAD', `Invalid distribution file: ${read.reason}`)
    const metadata = parseCoreMetadata(read.bytes)
    const refused = checkUploadedMetadata({ name: metadata.get('name'), version: metadata.get('version') }, parsed)
    if (refused !== undefined) throw new RequestRejected('EGGSERVE_BAD_UPLOAD', refused.reason)
    return read.bytes
  }

  /**
   * The filename the upload is stored under: that of a stored file which is the same
   * distribution file under another spelling (FOO_BAR-2.0-py3-none-any.whl for
   * foo_bar-2.0-py3-none-any.whl), else its own. Warehouse stores one file per filename and
   * one spelling per project (it refuses filenames that are not normalized); eggserve takes
   * any spelling but keeps one file for one release and tag set, as pip would pick either.
   */
  async #storedSpelling(parsed: ParsedDistFilename, filename: string): Promise<string> {
    const found = await this.#index.findProject(parsed.project)
    const files = found?.files ?? []
    if (files.some((stored) => stored.filename === filename)) return filename
    const wanted = distributionKey(filename, parsed)
    return files.find((stored) => distributionKey(stored.filename, stored.parsed) === wanted)?.filename ?? filename
  }

  async #existingSha256(key: string, parsed: ParsedDistFilename): Promise<string | undefined> {
    const opened = await this.#storage.open(key)
    if (opened === undefined) return undefined
    await opened.close()
    const folder = key.slice(0, key.indexOf('/'))
    const result = await this.#index.facts(distFile(folder, key, parsed, opened.file))
    return result.facts.digests.sha256
  }

  async #completeSignature(key: string, folder: string, signature: Buffer | undefined): Promise<void> {
    if (signature === undefined) return
    const existing = await this.#storage.open(key + SIGNATURE_SUFFIX)
    if (existing !== undefined) {
      await existing.close()
      return
    }
    await this.#writeSignature(key, folder, signature)
  }

  async #writeSignature(key: string, folder: string, bytes: Buffer): Promise<void> {
    const upload = await this.#storage.createUpload(folder)
    try {
      upload.writable.end(bytes)
      await new Promise<void>((resolve, reject) => {
        upload.writable.once('finish', resolve)
        upload.writable.once('error', reject)
      })
      await upload.commit(key + SIGNATURE_SUFFIX, { replace: true })
    } finally {
      await upload.abort()
    }
  }
}

function distFile(folder: string, key: string, parsed: ParsedDistFilename, stored: StoredFile): DistFile {
  return {
    folder,
    filename: key.slice(folder.length + 1),
    key,
    parsed,
    size: stored.size,
    mtimeMs: stored.mtimeMs,
    identity: stored.identity,
  }
}
