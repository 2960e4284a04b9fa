// Reading a multipart upload form as it arrives: text fields into memory (bounded), the
// `content` file straight to a temporary file through the digests (never buffered), and the
// small `gpg_signature` file into memory. Any failure stops reading, drops the temporary file
// and leaves the connection able to carry the answer.
import type { IncomingMessage } from 'node:http'
import type { Writable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import { Busboy, type BusboyFileStream, type BusboyHeaders, type BusboyInstance } from '@fastify/busboy'
import type { HashAlgorithm } from '../core/digests.js'
import { formatBytes } from '../core/bytes.js'
import { READ_FIELDS, type FormFields } from '../core/upload-rules.js'
import { RequestRejected } from '../errors.js'
import type { PendingUpload } from '../storage/storage.js'
import { CrlfFraming } from './crlf-framing.js'
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
  /** Algorithms the index keeps for every file (algorithmsFor(): md5, sha256 and those --hash-algo and --simple-hash-algo name). */
  readonly algorithms: readonly HashAlgorithm[]
  /**
   * Called when the `content` part starts, with the fields read so far: check its filename and
   * open the temporary file it goes to; throw a RequestRejected to refuse it before any byte is
   * written, or resolve undefined to have its bytes read and dropped (the form then has no content).
   */
  readonly openContent: (filename: string, fields: FormFields) => Promise<PendingUpload | undefined>
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

// busboy's parse errors are fixed English sentences ("Unexpected end of multipart data"):
// worth passing on, and never holding a path or client text.
const malformed = (err: Error): RequestRejected => bad(`Malformed multipart form: ${err.message.slice(0, 100)}`)

/** Read the multipart form of `raw` (its Content-Type must be multipart/form-data). */
export function receiveForm(raw: IncomingMessage, options: ReceiveOptions): Promise<ReceivedForm> {
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
  /** Where the body goes: busboy, or the framing stream in front of it. */
  #head: Writable | undefined
  #content: Promise<ReceivedFile | undefined> | undefined
  #pending: PendingUpload | undefined
  #signature: ReceivedForm['signature']
  #received = 0
  #failed = false
  #done = false
  #idle: NodeJS.Timeout | undefined

  constructor(
    raw: IncomingMessage,
    options: ReceiveOptions,
    resolve: (form: ReceivedForm) => void,
    reject: (err: unknown) => void,
  ) {
    this.#raw = raw
    this.#options = options
    this.#resolve = resolve
    this.#reject = reject
  }

  start(): void {
    let busboy: BusboyInstance
    try {
      busboy = Busboy({
        headers: this.#raw.headers as BusboyHeaders,
        // Keep the filename as sent, so "../x.whl" is refused rather than quietly cut to "x.whl".
        preservePath: true,
        limits: {
          fileSize: this.#options.maxFileBytes,
          fieldSize: MAX_FIELD_BYTES,
          files: 4,
          fields: 10_000,
          parts: 10_100,
        },
      })
    } catch {
      this.#fail(bad('Malformed multipart form: no boundary in the Content-Type'))
      return
    }
    this.#busboy = busboy
    busboy.on('field', (name, value, _nameTruncated, valueTruncated) => {
      this.#onField(name, value, valueTruncated)
    })
    busboy.on('file', (name, stream, filename) => {
      this.#onFile(name, stream, filename)
    })
    busboy.on('error', (err: Error) => {
      this.#fail(malformed(err))
    })
    busboy.on('finish', () => {
      this.#onFinish()
    })
    this.#raw.on('data', this.#onData)
    this.#raw.on('close', this.#onClose)
    this.#touch()
    // setuptools' upload_docs sends bare LF line ends: see CrlfFraming.
    const boundary = boundaryOf(this.#raw.headers['content-type'] ?? '')
    if (boundary === '') this.#head = busboy
    else {
      const framing = new CrlfFraming(boundary)
      // It raises nothing of its own; a listener all the same, since an unheard 'error' ends the process.
      framing.on('error', (err: Error) => {
        this.#fail(malformed(err))
      })
      framing.pipe(busboy)
      this.#head = framing
    }
    this.#raw.pipe(this.#head)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#received += chunk.length
    this.#touch()
    if (this.#received > this.#options.maxFileBytes + FORM_OVERHEAD_BYTES) this.#fail(this.#tooLarge())
  }

  readonly #onClose = (): void => {
    if (!this.#raw.complete)
      this.#fail(new RequestRejected('EGGSERVE_UPLOAD_ABORTED', 'The client went away before the upload was complete'))
  }

  #touch(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#idle = setTimeout(() => {
      this.#fail(
        new RequestRejected(
          'EGGSERVE_UPLOAD_TIMEOUT',
          `No data received for ${Math.round(this.#options.idleTimeoutMs / 1000)} s; upload abandoned`,
        ),
      )
    }, this.#options.idleTimeoutMs)
    this.#idle.unref()
  }

  #onField(name: string, value: string, truncated: boolean): void {
    if (this.#failed || !READ_FIELDS.includes(name)) return
    if (truncated) {
      this.#fail(bad(`The ${name} field is too long`))
      return
    }
    const values = this.#fields.get(name) ?? []
    if (values.length < MAX_VALUES_PER_FIELD) values.push(value)
    this.#fields.set(name, values)
  }

  #onFile(name: string, stream: BusboyFileStream, filename: string): void {
    // busboy re-emits a part's parse error (a body cut off inside the part) on its file
    // stream, even one being skipped or already destroyed: unheard, that 'error' would
    // end the process. Every file stream gets a listener before anything else happens.
    // An error the stream was destroyed with comes from where it was piped (a full disk):
    // that one reaches #fail through the content's pipeline, with its own status.
    stream.on('error', (err: Error) => {
      if (!stream.destroyed) this.#fail(malformed(err))
    })
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

  #onContent(stream: BusboyFileStream, filename: string): void {
    if (this.#content !== undefined) {
      stream.resume()
      this.#fail(bad('Only one file may be uploaded at a time (several "content" parts)'))
      return
    }
    const fields = new Map(this.#fields)
    this.#content = this.#receiveContent(stream, filename, fields)
    this.#content.catch((err: unknown) => {
      this.#fail(err)
    })
  }

  async #receiveContent(
    stream: BusboyFileStream,
    filename: string,
    fields: FormFields,
  ): Promise<ReceivedFile | undefined> {
    stream.once('limit', () => {
      this.#fail(this.#tooLarge())
    })
    const upload = await this.#options.openContent(filename, fields)
    if (upload === undefined) {
      // Not wanted (the action decides later): read and dropped, nothing written.
      stream.resume()
      await finished(stream)
      return undefined
    }
    this.#pending = upload
    try {
      if (this.#failed) throw new Error('upload already failed')
      const tap = await DigestTap.create(this.#options.algorithms)
      await pipeline(stream, tap, upload.writable)
      if (stream.truncated) throw this.#tooLarge()
      return { filename, upload, size: upload.size, digests: tap.result() }
    } catch (err) {
      await upload.abort()
      throw err
    }
  }

  #onSignature(stream: BusboyFileStream, filename: string): void {
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
    stream.once('end', () => {
      this.#signature ??= { filename, bytes: Buffer.concat(chunks) }
    })
  }

  #onFinish(): void {
    if (this.#failed) return
    const content = this.#content ?? Promise.resolve(undefined)
    content.then(
      (file) => {
        if (this.#failed) return
        this.#stop()
        // From here the temporary file is the caller's: nothing may fail the form and drop it.
        this.#done = true
        this.#resolve({ fields: this.#fields, content: file, signature: this.#signature })
      },
      (err: unknown) => {
        this.#fail(err)
      },
    )
  }

  #tooLarge(): RequestRejected {
    return new RequestRejected(
      'EGGSERVE_TOO_LARGE',
      `File too large. Limit is ${formatBytes(this.#options.maxFileBytes, { exact: true })}`,
    )
  }

  /** Stop reading the form: the rest of the body is read and dropped (so the answer still arrives). */
  #stop(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle)
    this.#raw.off('data', this.#onData)
    this.#raw.off('close', this.#onClose)
    if (this.#head !== undefined) this.#raw.unpipe(this.#head)
  }

  #fail(err: unknown): void {
    if (this.#failed || this.#done) return
    this.#failed = true
    this.#stop()
    this.#raw.resume()
    for (const stream of this.#streams) stream.destroy()
    this.#busboy?.destroy()
    // The content part may still be opening its temporary file or writing to it: once it
    // has settled (it sees #failed, or its destroyed stream, and stops), the file is dropped,
    // and only then is the answer sent, so nothing is left on disk when the client reads it.
    const content =
      this.#content?.then(
        () => undefined,
        () => undefined,
      ) ?? Promise.resolve()
    void content
      .then(() => this.#pending?.abort())
      .finally(() => {
        this.#reject(err)
      })
  }
}

/** The boundary parameter of a multipart Content-Type (RFC 2046 §5.1.1; quoted or not), or ''. */
export function boundaryOf(contentType: string): string {
  const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(contentType)
  return match?.[1] ?? match?.[2] ?? ''
}
