// The file operations that let several processes share one cache file without locks (see
// docs/cache.md, "Several processes"). The rule they keep: the file at the cache path is only
// ever taken away by a process that then reads it whole, and a new file is only ever put at
// the path where there is none, so no file holding acknowledged records is dropped unread.
import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, unlink } from 'node:fs/promises'
import { errnoCode } from '../errors.js'

/** A name beside `path` that no other process uses. */
function privateName(path: string, suffix: string): string {
  return `${path}.${process.pid}.${randomBytes(6).toString('hex')}.${suffix}`
}

/**
 * Move the file at `path` out of the way (other processes then find none there) and return
 * what it holds; undefined when there is none. A process still appending to it notices, as the
 * path no longer leads to it, and writes those records again where the path leads.
 */
export async function takeAway(path: string): Promise<Buffer | undefined> {
  const away = privateName(path, 'old')
  try {
    await rename(path, away)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
  let bytes: Buffer
  try {
    bytes = await readFile(away)
  } catch (err) {
    // Unreadable now (EIO): put it back for a later try, rather than drop records unread.
    await link(away, path).catch(() => undefined)
    await unlink(away)
    throw err
  }
  await unlink(away)
  return bytes
}

/**
 * Put a new file holding `text` at `path`, on disk (fsync) before it appears there, unless
 * there is a file there already: then false, and nothing changed. link(2) fails with EEXIST
 * where rename(2) would silently replace another process's file and the records in it.
 */
export async function putNew(path: string, text: string): Promise<boolean> {
  const tmp = privateName(path, 'tmp')
  const handle = await open(tmp, 'wx', 0o600)
  try {
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await link(tmp, path)
    return true
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false
    throw err
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
}

// What fsync(2) of a directory answers where the filesystem does not support it; PostgreSQL's
// fsync_fname_ext (src/backend/storage/file/fd.c) ignores EBADF and EINVAL for directories too.
const SYNC_UNSUPPORTED = new Set(['EINVAL', 'EBADF', 'ENOTSUP', 'EOPNOTSUPP'])

/** fsync `dir`, so that a file just linked into it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch (err) {
    // Not supported: as durable as this filesystem gets. Anything else (EIO) fails the compaction.
    if (!SYNC_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err
  } finally {
    await handle.close()
  }
}
