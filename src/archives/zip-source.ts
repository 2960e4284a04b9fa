// yauzl over a RandomAccessSource: the central directory is read with ranged reads, never the whole file.
import { PassThrough, type Readable } from 'node:stream'
import { fromRandomAccessReader, RandomAccessReader, type Entry, type ZipFile } from 'yauzl'
import {
  errorMessage,
  isMetadataFailure,
  metadataProblem,
  type MetadataFailure,
  type MetadataLimits,
  type MetadataRead,
  type RandomAccessSource,
} from './metadata-read.js'
import type { MemberChooser } from './member-choosers.js'
import { readZipMember } from './zip-member.js'

// yauzl reads the central directory 46 bytes, then one name, at a time. Each small read would
// be a new stream on the source (a new range request once storage is remote), so small reads
// are served from one read-ahead block: one or two streams for a typical wheel, about 15 for
// a 50 000-member one, instead of two per entry.
export const READ_AHEAD_BYTES = 256 * 1024

/**
 * A yauzl RandomAccessReader over a {@link RandomAccessSource}. It never closes the source:
 * whoever opened the source closes it.
 */
export class SourceReader extends RandomAccessReader {
  readonly #source: RandomAccessSource
  #blockStart = 0
  #block: Buffer = Buffer.alloc(0)

  constructor(source: RandomAccessSource) {
    super()
    this.#source = source
  }

  // yauzl's `end` is exclusive, the source's inclusive. yauzl never asks for an empty range
  // here (RandomAccessReader.createReadStream answers start === end itself).
  override _readStreamForRange(start: number, end: number): Readable {
    return cutShortOnly(this.#source.createReadStream({ start, end: end - 1 }))
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    // Answered asynchronously even from the block: yauzl's lazy entry loop would otherwise
    // recurse once per entry and hold the event loop for the whole central directory.
    if (this.#copyFromBlock(buffer, offset, length, position)) {
      setImmediate(callback, null)
      return
    }
    if (position < 0 || position + length > this.#source.size) {
      setImmediate(callback, new Error('unexpected EOF'))
      return
    }
    const end = Math.min(this.#source.size, position + Math.max(length, READ_AHEAD_BYTES))
    readRange(this.#source, position, end).then(
      (block) => {
        this.#block = block
        this.#blockStart = position
        callback(this.#copyFromBlock(buffer, offset, length, position) ? null : new Error('unexpected EOF'))
      },
      (err: unknown) => {
        callback(err instanceof Error ? err : new Error(errorMessage(err)))
      },
    )
  }

  #copyFromBlock(buffer: Buffer, offset: number, length: number, position: number): boolean {
    const from = position - this.#blockStart
    if (from < 0 || from + length > this.#block.length) return false
    this.#block.copy(buffer, offset, from, from + length)
    return true
  }
}

/**
 * yauzl destroys every stream it made once it is done with it, even one read to its end. A
 * source stream is destroyed only to cut it short: destroying a finished FileHandle stream
 * closes the FileHandle itself (Node's fs streams do so whatever `autoClose` says), which
 * would close the caller's OpenFile under it.
 */
export function cutShortOnly(source: Readable): Readable {
  const guarded = new PassThrough()
  source.on('error', (err: Error) => guarded.destroy(err))
  guarded.on('close', () => {
    if (!source.readableEnded) source.destroy()
  })
  return source.pipe(guarded)
}

/** Bytes [start, end) of the source, read into one buffer; the stream is destroyed on failure. */
export async function readRange(source: RandomAccessSource, start: number, end: number): Promise<Buffer> {
  const stream = source.createReadStream({ start, end: end - 1 })
  const chunks: Buffer[] = []
  let length = 0
  // for await destroys the stream when the loop is left early (the throw below, or an error),
  // and leaves it alone when it ends (see cutShortOnly for why that matters).
  for await (const chunk of stream) {
    const bytes = chunk as Buffer // fs-like streams without an encoding yield Buffers
    chunks.push(bytes)
    length += bytes.length
    if (length > end - start) throw new Error('source returned more bytes than asked for')
  }
  if (length !== end - start) throw new Error('unexpected EOF')
  return Buffer.concat(chunks, length)
}

/**
 * Open a zip over `source` (lazy entries, no auto-close: the caller closes the ZipFile), or
 * say why it is not a usable zip. Entry names are decoded and checked by yauzl (absolute
 * paths and `..` are refused).
 */
export async function openZip(source: RandomAccessSource, limits: MetadataLimits): Promise<ZipFile | MetadataFailure> {
  if (source.size === 0) return metadataProblem('corrupt-archive', 'empty file')
  let zip: ZipFile
  try {
    zip = await new Promise<ZipFile>((resolve, reject) => {
      fromRandomAccessReader(
        new SourceReader(source),
        source.size,
        {
          lazyEntries: true,
          autoClose: false,
          decodeStrings: true,
          validateEntrySizes: true,
          strictFileNames: false,
        },
        (err, zipfile) => {
          if (err === null) resolve(zipfile)
          else reject(err)
        },
      )
    })
  } catch (err) {
    return metadataProblem('corrupt-archive', `not a readable zip: ${errorMessage(err)}`)
  }
  // Errors are also delivered to whoever is reading; this keeps a late one from being unhandled.
  zip.on('error', () => undefined)
  if (zip.entryCount > limits.maxZipEntries) {
    zip.close()
    return metadataProblem('too-large', `the zip lists ${zip.entryCount} members, more than ${limits.maxZipEntries}`)
  }
  return zip
}

/** Walk the central directory, letting `see` stop early with a failure. */
export async function scanZip(
  zip: ZipFile,
  see: (entry: Entry) => MetadataFailure | undefined,
): Promise<MetadataFailure | undefined> {
  try {
    for await (const entry of zip.eachEntry()) {
      const stop = see(entry)
      if (stop !== undefined) return stop
    }
  } catch (err) {
    return metadataProblem('corrupt-archive', `bad central directory: ${errorMessage(err)}`)
  }
  return undefined
}

/** Open a zip, choose its metadata member, read it, and close the zip whatever happens. */
export async function readZipMetadata(
  source: RandomAccessSource,
  chooser: MemberChooser,
  limits: MetadataLimits,
): Promise<MetadataRead> {
  const zip = await openZip(source, limits)
  if (isMetadataFailure(zip)) return zip
  try {
    const stop = await scanZip(zip, (entry) => chooser.see(entry))
    if (stop !== undefined) return stop
    const chosen = chooser.choose()
    if (isMetadataFailure(chosen)) return chosen
    return await readZipMember(zip, chosen, limits)
  } finally {
    zip.close()
  }
}
