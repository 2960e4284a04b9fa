// PKG-INFO from a .tar.gz / .tar sdist (core metadata in `<top>/PKG-INFO`), streamed from the start and abandoned as soon as it
// is read; and, for uploads, a walk over every member name (Warehouse's top-level folder check).
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { createGunzip, type Gunzip } from 'node:zlib'
import { extract as tarExtract, type Header } from 'tar-stream'
import { isTopLevelPkgInfo } from './member-choosers.js'
import {
  errorMessage,
  metadataProblem,
  type MetadataFailure,
  type MetadataLimits,
  type MetadataRead,
  type RandomAccessSource,
} from './metadata-read.js'

/** How the tar is wrapped: `.tar.gz`/`.tgz` are gzip, `.tar` is plain. */
export type TarCompression = 'gzip' | 'none'

/** Options of {@link readTarPkgInfo}. */
export interface TarReadOptions {
  readonly compression: TarCompression
  readonly limits: MetadataLimits
  /** The member holding the metadata; default: the first `<top>/PKG-INFO` of any top folder. */
  readonly isMetadata?: (name: string) => boolean
}

// Regular files only: a symlink or hard link called PKG-INFO has no bytes of its own.
const FILE_TYPES: ReadonlySet<Header['type']> = new Set(['file', 'contiguous-file'])

/** What is used of a tar-stream member body (a streamx Readable, not a Node one). */
interface MemberBody {
  on(event: 'data', listener: (chunk: unknown) => void): unknown
  on(event: 'end' | 'error', listener: () => void): unknown
  resume(): unknown
}

/** How one walk over a tar goes: its byte budget, and what it does with each member. */
interface TarVisitor<T> {
  /** Most decompressed bytes read; past them, `overLimit` is the result. */
  readonly maxBytes: number
  overLimit(scanned: number): T | MetadataFailure
  /** Look at one member: skip its body (`next` once it ends) or settle the walk. */
  entry(header: Header, body: MemberBody, next: () => void, settle: (result: T | MetadataFailure) => void): void
  /** Every member was seen. */
  finish(): T | MetadataFailure
}

/**
 * Walk the tar from its first byte. Every stream still running is destroyed before the
 * promise settles; errors of the archive (corrupt gzip, a tar cut off) become corrupt-archive.
 * tar-stream skips all-zero blocks silently, so only a byte count stops a stream of zeros.
 */
async function walkTar<T>(
  source: RandomAccessSource,
  compression: TarCompression,
  visitor: TarVisitor<T>,
): Promise<T | MetadataFailure> {
  if (source.size === 0) return metadataProblem('corrupt-archive', 'empty file')
  let raw: Readable
  try {
    raw = source.createReadStream({ start: 0, end: source.size - 1 })
  } catch (err) {
    return metadataProblem('corrupt-archive', `cannot read the file: ${errorMessage(err)}`)
  }
  return new Promise<T | MetadataFailure>((resolve) => {
    const gunzip: Gunzip | undefined = compression === 'gzip' ? createGunzip() : undefined
    const extract = tarExtract()
    let settled = false
    let scanned = 0
    const settle = (result: T | MetadataFailure): void => {
      if (settled) return
      settled = true
      // A finished source stream is left alone: destroying one closes a FileHandle under it.
      if (!raw.readableEnded) raw.destroy()
      gunzip?.destroy()
      counter.destroy()
      extract.destroy()
      resolve(result)
    }
    const corrupt = (err: Error): void => {
      settle(
        metadataProblem('corrupt-archive', `not a readable tar${compression === 'gzip' ? '.gz' : ''}: ${err.message}`),
      )
    }

    // Counts decompressed bytes before tar-stream sees them; zero blocks and skipped member
    // bodies count too, which is the point.
    const counter = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        scanned += chunk.length
        if (scanned > visitor.maxBytes) {
          settle(visitor.overLimit(scanned))
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
      if (!settled) visitor.entry(header, stream, next, settle)
    })
    extract.on('finish', () => {
      settle(visitor.finish())
    })
    extract.on('error', corrupt)
    counter.on('error', corrupt)
    gunzip?.on('error', corrupt)
    raw.on('error', corrupt)

    const decompressed: Readable = gunzip === undefined ? raw : raw.pipe(gunzip)
    decompressed.pipe(counter).pipe(extract)
  })
}

function skip(body: MemberBody, next: () => void): void {
  body.on('end', () => {
    next()
  })
  body.resume()
}

/**
 * Scan the tar for the first metadata member (by default `<top>/PKG-INFO`) and return its
 * bytes, bounded by `maxTarEntries` members and `maxTarScanBytes` decompressed bytes.
 */
export async function readTarPkgInfo(source: RandomAccessSource, options: TarReadOptions): Promise<MetadataRead> {
  const { limits } = options
  const isMetadata = options.isMetadata ?? isTopLevelPkgInfo
  let entries = 0
  return walkTar<MetadataRead>(source, options.compression, {
    maxBytes: limits.maxTarScanBytes,
    overLimit: () =>
      metadataProblem('missing-metadata', `no <top>/PKG-INFO in the first ${limits.maxTarScanBytes} bytes`),
    entry(header, body, next, settle) {
      entries += 1
      if (entries > limits.maxTarEntries) {
        settle(metadataProblem('missing-metadata', `no <top>/PKG-INFO in the first ${limits.maxTarEntries} members`))
      } else if (FILE_TYPES.has(header.type) && isMetadata(header.name)) {
        // next() is never called: tar-stream stays parked on this member until we destroy it.
        readMember(header, body, limits, settle)
      } else {
        skip(body, next)
      }
    },
    finish: () => metadataProblem('missing-metadata', 'no <top>/PKG-INFO'),
  })
}

/** The path components of a member name, as Python's os.path.commonpath sees them (no '' or '.'). */
export function pathComponents(name: string): string[] {
  return name.split('/').filter((part) => part !== '' && part !== '.')
}

/** The leading components `common` (updated in place) shares with `parts`: os.path.commonpath, one path at a time. */
export function commonPrefix(common: string[] | undefined, parts: readonly string[]): string[] {
  if (common === undefined) return [...parts]
  let same = 0
  while (same < common.length && same < parts.length && common[same] === parts[same]) same++
  common.length = same
  return common
}

/**
 * The common leading folder of every member of the tar (Python's os.path.commonpath over
 * `tar.getnames()`, as Warehouse computes an sdist's top folder), as path components; empty
 * when the members share none. Reads every member header: at most `maxBytes` decompressed
 * bytes, past which `overLimit` is the result.
 */
export async function tarCommonFolder(
  source: RandomAccessSource,
  options: { compression: TarCompression; maxBytes: number; overLimit: (scanned: number) => MetadataFailure },
): Promise<readonly string[] | MetadataFailure> {
  let common: string[] | undefined
  return walkTar<readonly string[]>(source, options.compression, {
    maxBytes: options.maxBytes,
    overLimit: options.overLimit,
    entry(header, body, next) {
      // An absolute name shares no folder with anything (commonpath would refuse the mix).
      common = commonPrefix(common, header.name.startsWith('/') ? [] : pathComponents(header.name))
      skip(body, next)
    },
    finish: () => common ?? [],
  })
}

/** Gather one member's body (its size is known from the header, so the cap applies up front). */
function readMember(
  header: Header,
  stream: MemberBody,
  limits: MetadataLimits,
  settle: (result: MetadataRead) => void,
): void {
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
