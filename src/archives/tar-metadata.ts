// PKG-INFO from a .tar.gz / .tar sdist (MD-3), streamed from the start and abandoned as soon as it is read.
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { createGunzip, type Gunzip } from 'node:zlib'
import { extract as tarExtract, type Header } from 'tar-stream'
import { isTopLevelPkgInfo } from './member-choosers.js'
import { errorMessage, metadataProblem, type MetadataLimits, type MetadataRead, type RandomAccessSource } from './metadata-read.js'

/** How the tar is wrapped: `.tar.gz`/`.tgz` are gzip, `.tar` is plain. */
export type TarCompression = 'gzip' | 'none'

// Regular files only: a symlink or hard link called PKG-INFO has no bytes of its own.
const FILE_TYPES: ReadonlySet<Header['type']> = new Set(['file', 'contiguous-file'])

/**
 * Scan the tar from its first byte for the first `<top>/PKG-INFO` and return its bytes.
 * Bounded by `maxTarEntries` members and `maxTarScanBytes` decompressed bytes (tar-stream
 * skips all-zero blocks silently, so only a byte count stops a stream of zeros). Every stream
 * still running is destroyed before the promise settles.
 */
export async function readTarPkgInfo (source: RandomAccessSource, compression: TarCompression, limits: MetadataLimits): Promise<MetadataRead> {
  if (source.size === 0) return metadataProblem('corrupt-archive', 'empty file')
  let raw: Readable
  try {
    raw = source.createReadStream({ start: 0, end: source.size - 1 })
  } catch (err) {
    return metadataProblem('corrupt-archive', `cannot read the file: ${errorMessage(err)}`)
  }
  return new Promise<MetadataRead>((resolve) => {
    const gunzip: Gunzip | undefined = compression === 'gzip' ? createGunzip() : undefined
    const extract = tarExtract()
    let settled = false
    let scanned = 0
    let entries = 0
    const settle = (result: MetadataRead): void => {
      if (settled) return
      settled = true
      // A finished source stream is left alone: destroying one closes a FileHandle under it.
      if (!raw.readableEnded) raw.destroy()
      gunzip?.destroy()
      counter.destroy()
      extract.destroy()
      resolve(result)
    }
    const corrupt = (err: Error): void => { settle(metadataProblem('corrupt-archive', `not a readable tar${compression === 'gzip' ? '.gz' : ''}: ${err.message}`)) }

    // Counts decompressed bytes before tar-stream sees them; zero blocks and skipped member
    // bodies count too, which is the point.
    const counter = new Transform({
      transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        scanned += chunk.length
        if (scanned > limits.maxTarScanBytes) {
          settle(metadataProblem('missing-metadata', `no <top>/PKG-INFO in the first ${limits.maxTarScanBytes} bytes`))
          callback()
          return
        }
        callback(null, chunk)
      },
    })

    extract.on('entry', (header, stream, next) => {
      // tar-stream destroys the current member's stream with the archive's own error (a tar
      // cut off inside a member): unheard, that 'error' would end the process. The archive's
      // error reaches `corrupt` through extract itself.
      stream.on('error', () => undefined)
      if (settled) return
      entries += 1
      if (entries > limits.maxTarEntries) {
        settle(metadataProblem('missing-metadata', `no <top>/PKG-INFO in the first ${limits.maxTarEntries} members`))
      } else if (FILE_TYPES.has(header.type) && isTopLevelPkgInfo(header.name)) {
        // next() is never called: tar-stream stays parked on this member until we destroy it.
        readMember(header, stream, limits, settle)
      } else {
        stream.on('end', () => { next() })
        stream.resume()
      }
    })
    extract.on('finish', () => { settle(metadataProblem('missing-metadata', 'no <top>/PKG-INFO')) })
    extract.on('error', corrupt)
    counter.on('error', corrupt)
    gunzip?.on('error', corrupt)
    raw.on('error', corrupt)

    const decompressed: Readable = gunzip === undefined ? raw : raw.pipe(gunzip)
    decompressed.pipe(counter).pipe(extract)
  })
}

/** What is used of a tar-stream member body (a streamx Readable, not a Node one). */
interface MemberBody {
  on (event: 'data', listener: (chunk: unknown) => void): unknown
  on (event: 'end', listener: () => void): unknown
}

/** Gather one member's body (its size is known from the header, so the cap applies up front). */
function readMember (header: Header, stream: MemberBody, limits: MetadataLimits, settle: (result: MetadataRead) => void): void {
  const member = header.name
  if (header.size > limits.maxMetadataBytes) {
    settle(metadataProblem('too-large', `${member} is ${header.size} bytes, more than ${limits.maxMetadataBytes}`))
    return
  }
  const chunks: Buffer[] = []
  let total = 0
  stream.on('data', (chunk: unknown) => {
    // streamx types chunks as unknown; tar-stream pushes Buffers (b4a on Node).
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array)
    total += bytes.length
    chunks.push(bytes)
  })
  stream.on('end', () => {
    // tar-stream ends a member after exactly header.size bytes; anything else is truncation.
    if (total !== header.size) settle(metadataProblem('corrupt-archive', `${member} is cut short`))
    else settle({ ok: true, bytes: Buffer.concat(chunks, total), member })
  })
}
