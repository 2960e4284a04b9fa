// Reading a multipart upload form as it arrives: text fields into memory (bounded), the
// `content` file straight to a temporary file through the digests (never buffered), and the
// small `gpg_signature` file into memory. Any failure stops reading, drops the temporary file
// and leaves the connection able to carry the answer.
import type { IncomingMessage } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { Busboy, type BusboyFileStream, type BusboyHeaders, type BusboyInstance } from '@fastify/busboy'
import type { HashAlgorithm } from '../core/digests.js'
import { plural } from '../core/plural.js'
import { READ_FIELDS, type FormFields } from '../core/upload-rules.js'
import { RequestRejected } from '../http/http-errors.js'
import type { PendingUpload } from '../storage/storage.js'
import { DigestTap, type UploadDigests } from './digest-tap.js'

/** The uploaded distribution, written to a temporary file and hashed on the way. */
export interface ReceivedFile {
  readonly filename: string
  readonly upload: PendingUpload
  readonly size: number
  readonly digests: UploadDigests
}

/** A whole form, read. */
export interface ReceivedForm {
  readonly fields: FormFields
  readonly content: ReceivedFile | undefined
  readonly signature: { readonly filename: string; readonly bytes: Buffer } | undefined
}

/** Options of receiveForm. */
export interface ReceiveOptions {
  /** Largest `content` file, in bytes (--max-upload-size). */
  readonly maxFileBytes: number
  /** An upload that sends nothing for this long is abandoned. */
  readonly idleTimeoutMs: number
  /** Algorithms the index keeps besides md5 and sha256 (the --hash-algo one). */
  readonly algorithms: readonly HashAlgorithm[]
  /**
   * Called when the `content` part starts, with the fields read so far: check its filename and
   * open the temporary file it goes to; throw a RequestRejected to refuse it before any byte is written.
   */
  readonly openContent: (filename: string, fields: FormFields) => Promise<PendingUpload>
}

/** Bytes of text fields and the signature allowed on top of the file (a long description is ~100 KB). */
export const FORM_OVERHEAD_BYTES = 16 * 1024 * 1024
/** Largest signature kept (an ASCII-armoured detached signature is about 1 KB). */
export const MAX_SIGNATURE_BYTES = 64 * 1024
// Fields eggserve does not read (description, classifiers, ...) are dropped as they are parsed;
// busboy holds one field at a time, cut at this size.
const MAX_FIELD_BYTES = 1024 * 1024
const MAX_VALUES_PER_FIELD = 16

const bad = (message: string): RequestRejected => new RequestRejected('EGGSERVE_BAD_UPLOAD', message)

/** Read the multipart form of `raw` (its Content-Type must be multipart/form-data). */
export function receiveForm (raw: IncomingMessage, options: ReceiveOptions): Promise<ReceivedForm> {
  return new Promise<ReceivedForm>((resolve, reject) => {
    new FormReception(raw, options, resolve, reject).start()
  })
}

class FormReception {
  readonly #raw: IncomingMessage
  readonly #options: ReceiveOptions
  readonly #resolve: (form: ReceivedForm) => void
  readonly #reject: (err: unknown) => void
  readonly #fields = new Map<string, string[]>()
  readonly #streams = new Set<BusboyFileStream>()
  #busboy: BusboyInstance | undefined
  #content: Promise<ReceivedFile> | undefined
  #pending: PendingUpload | undefined
  #signature: ReceivedForm['signature']
  #received = 0
  #failed = false
  #idle: NodeJS.Timeout | undefined

  constructor (raw: IncomingMessage, options: ReceiveOptions, resolve: (form: ReceivedForm) => void, reject: (err: unknown) => void) {
    this.#raw = raw
    this.#options = options
    this.#resolve = resolve
    this.#reject = reject
  }

  start (): void {
    let busboy: BusboyInstance
    try {
      busboy = Busboy({
        headers: this.#raw.headers as BusboyHeaders,
        // Keep the filename as sent, so "../x.whl" is refused rather than quietly cut to "x.whl".
        preservePath: true,
        limits: { fileSize: this.#options.maxFileBytes, fieldSize: MAX_FIELD_BYTES, files: 4, fields: 10_000, parts: 10_100 },
      })
    } catch {
      this.#fail(bad('Malformed multipart form: no boundary in the Content-Type'))
      return
    }
    this.#busboy = busboy
    busboy.on('field', (name, value, _nameTruncated, valueTruncated) => { this.#onField(name, value, valueTruncated) })
    busboy.on('file', (name, stream, filename) => { this.#onFile(name, stream, filename) })
    busboy.on('error', () => { this.#fail(bad('Malformed multipart form')) })
    busboy.on('finish', () => { this.#onFinish() })
    this.#raw.on('data', this.#onData)
    this.#raw.on('close', this.#onClose)
    this.#touch()
    this.#raw.pipe(busboy)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#received += chunk.length
    this.#touch()
    if (this.#received > this.#options.maxFileBytes + FORM_OVERHEAD_BYTES) this.#fail(this.#tooLarge())
  }

  readonly #onClose = (): void => {
    if (!this.#raw.complete) this.#fail(new RequestRejected('EGGSERVE_UPLOAD_ABORTED', 'The client went away before the upload was complete'))
  }

  #touch (): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#idle = setTimeout(() => {
      this.#fail(new RequestRejected('EGGSERVE_UPLOAD_TIMEOUT', `No data received for ${Math.round(this.#options.idleTimeoutMs / 1000)} s; upload abandoned`))
    }, this.#options.idleTimeoutMs)
    this.#idle.unref()
  }

  #onField (name: string, value: string, truncated: boolean): void {
    if (this.#failed || !READ_FIELDS.includes(name)) return
    if (truncated) {
      this.#fail(bad(`The ${name} field is too long`))
      return
    }
    const values = this.#fields.get(name) ?? []
    if (values.length < MAX_VALUES_PER_FIELD) values.push(value)
    this.#fields.set(name, values)
  }

  #onFile (name: string, stream: BusboyFileStream, filename: string): void {
    if (this.#failed) {
      stream.resume()
      return
    }
    this.#streams.add(stream)
    stream.once('close', () => this.#streams.delete(stream))
    if (name === 'content') this.#onContent(stream, filename)
    else if (name === 'gpg_signature') this.#onSignature(stream, filename)
    else stream.resume()
  }

  #onContent (stream: BusboyFileStream, filename: string): void {
    if (this.#content !== undefined) {
      stream.resume()
      this.#fail(bad('Only one file may be uploaded at a time (several "content" parts)'))
      return
    }
    const fields = new Map(this.#fields)
    this.#content = this.#receiveContent(stream, filename, fields)
    this.#content.catch((err: unknown) => { this.#fail(err) })
  }

  async #receiveContent (stream: BusboyFileStream, filename: string, fields: FormFields): Promise<ReceivedFile> {
    stream.once('limit', () => { this.#fail(this.#tooLarge()) })
    const upload = await this.#options.openContent(filename, fields)
    this.#pending = upload
    if (this.#failed) {
      await upload.abort()
      throw new Error('upload already failed')
    }
    const tap = await DigestTap.create(this.#options.algorithms)
    await pipeline(stream, tap, upload.writable)
    if (stream.truncated) throw this.#tooLarge()
    return { filename, upload, size: upload.size, digests: tap.result() }
  }

  #onSignature (stream: BusboyFileStream, filename: string): void {
    if (this.#signature !== undefined) {
      stream.resume()
      this.#fail(bad('Only one signature may be uploaded (several "gpg_signature" parts)'))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_SIGNATURE_BYTES) this.#fail(bad(`The signature is larger than ${MAX_SIGNATURE_BYTES / 1024} KiB`))
      else chunks.push(chunk)
    })
    stream.once('end', () => { this.#signature ??= { filename, bytes: Buffer.concat(chunks) } })
  }

  #onFinish (): void {
    if (this.#failed) return
    const content = this.#content ?? Promise.resolve(undefined)
    content.then((file) => {
      if (this.#failed) return
      this.#stop()
      this.#resolve({ fields: this.#fields, content: file, signature: this.#signature })
    }, (err: unknown) => { this.#fail(err) })
  }

  #tooLarge (): RequestRejected {
    return new RequestRejected('EGGSERVE_TOO_LARGE', `File too large. Limit is ${formatBytes(this.#options.maxFileBytes)}`)
  }

  /** Stop reading the form: the rest of the body is read and dropped (so the answer still arrives). */
  #stop (): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#raw.off('data', this.#onData)
    this.#raw.off('close', this.#onClose)
    if (this.#busboy !== undefined) this.#raw.unpipe(this.#busboy)
  }

  #fail (err: unknown): void {
    if (this.#failed) return
    this.#failed = true
    this.#stop()
    this.#raw.resume()
    for (const stream of this.#streams) stream.destroy()
    this.#busboy?.destroy()
    const pending = this.#pending
    const aborted = pending === undefined ? Promise.resolve() : pending.abort()
    void aborted.finally(() => { this.#reject(err) })
  }
}

/** Bytes for a message: "1 GiB", "10 MiB", "512 KiB", "100 bytes". */
export function formatBytes (bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`
  }
  return plural(bytes, 'byte')
}
