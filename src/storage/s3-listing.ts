// Listings of a bucket tree: ListObjectsV2 with a delimiter, page after page (at most 1,000
// keys each, per the API reference), never a HEAD per key. A listing is remembered for a
// short while, so the change-token checks of many requests cost one LIST; writes made
// through this storage forget the listings they change. Beside them, the last listing of
// every folder is known (what a snapshot is made of), with which folders changed since.
import { createHash } from 'node:crypto'
import { describeObject, objectKey, plainEtag, type S3Context } from './s3-context.js'
import { listPages, type ListRequest } from './s3-list-pages.js'
import type { SnapshotState } from './s3-snapshot-format.js'
import { isPlainName, makeKey, type FolderListing, type RootListing, type StoredFile } from './storage.js'

/** What a snapshot holds of the listings. */
export type TreeListings = Pick<SnapshotState, 'folders' | 'rootFiles' | 'listings'>

/** One level of the tree: the objects directly in it and the names of the sub-folders. */
interface Level {
  readonly objects: readonly {
    readonly name: string
    readonly etag: string
    readonly size: number
    readonly lastModified: Date | undefined
  }[]
  readonly folders: readonly string[]
  /** Whether any key at all starts with the level's prefix (a folder exists only through its keys). */
  readonly exists: boolean
}

// LISTs sent at once: a start-up over thousands of folders waits here, in order, rather than
// in the HTTP agent's socket queue (which warns once it holds more than twice its sockets).
const MAX_LISTS = 16

interface Remembered<T> {
  readonly at: number
  readonly value: Promise<T>
  running: boolean
}

/** Listings of the root and the project folders, remembered for `ttlMs`. */
export class S3Listings {
  readonly #context: S3Context
  #ttlMs: number
  #root: Remembered<RootListing> | undefined
  readonly #folders = new Map<string, Remembered<FolderListing | undefined>>()
  #prunedAt = 0
  #listing = 0
  readonly #waiting: (() => void)[] = []
  #refreshing: Promise<void> | undefined
  /** The last listing of the top level and of each folder, kept for snapshots. */
  #knownRoot: RootListing | undefined
  readonly #known = new Map<string, FolderListing>()
  /** Folders changed since their known listing (the top level: #rootChanged). */
  readonly #changed = new Set<string>()
  #rootChanged = true
  // A listing updates what is known only when nothing it covers was forgotten while it ran.
  #epoch = 0
  readonly #forgottenAt = new Map<string, number>()
  #allForgottenAt = 0

  constructor(context: S3Context, ttlMs: number) {
    this.#context = context
    this.#ttlMs = ttlMs
  }

  listRoot(): Promise<RootListing> {
    if (this.#root === undefined || this.#stale(this.#root)) {
      const remembered = remember(this.#listRoot())
      this.#root = remembered
      // A failed listing is not remembered: the next request tries again.
      remembered.value.catch(() => {
        if (this.#root === remembered) this.#root = undefined
      })
    }
    return this.#root.value
  }

  listFolder(folder: string): Promise<FolderListing | undefined> {
    const remembered = this.#folders.get(folder)
    if (remembered !== undefined && !this.#stale(remembered)) return remembered.value
    this.#prune()
    const fresh = remember(this.#listFolder(folder))
    this.#folders.set(folder, fresh)
    fresh.value.catch(() => {
      if (this.#folders.get(folder) === fresh) this.#folders.delete(folder)
    })
    return fresh.value
  }

  /**
   * How long a listing is taken as current from now on: long while the change journal reports
   * every change made through eggserve, short when it cannot be read.
   */
  set ttlMs(ttlMs: number) {
    this.#ttlMs = ttlMs
  }

  /** Forget every listing (the journal could not say what changed). */
  forgetAll(): void {
    this.#folders.clear()
    this.#root = undefined
    this.#allForgottenAt = ++this.#epoch
    for (const folder of this.#known.keys()) this.#changed.add(folder)
    this.#rootChanged = true
  }

  /** Forget what is remembered of `folder` and of the root (after a write through this storage). */
  forget(folder: string): void {
    this.#folders.delete(folder)
    this.#root = undefined
    this.#forgottenAt.set(folder, ++this.#epoch)
    this.#changed.add(folder)
    this.#rootChanged = true
  }

  /**
   * List the whole tree with one flat paged listing (no delimiter: 1,000 keys a page, however
   * many folders) and take it as this storage's own, as prime() does: a start-up without a
   * snapshot costs a LIST per 1,000 objects, not one per folder.
   */
  async listTree(): Promise<void> {
    this.prime(await this.#flatListing())
  }

  /**
   * Before a reconcile asks for every folder again: when the folders whose listing ran out of
   * trust (and the top level, if it did) cost more LISTs one by one than one flat listing of
   * the whole tree (a LIST per 1,000 keys, plus the one that stops at the hidden folder), take
   * that flat listing for all of them at once; otherwise leave each to its own LIST. A request
   * for a due folder meanwhile waits for the flat listing rather than list its folder. If the
   * flat listing fails, the due folders are listed one by one, as before.
   */
  async refreshDue(): Promise<void> {
    const known = this.#knownRoot
    if (known === undefined) return
    // The reconcile runs once per trust period, so the listings the last one made are a few
    // milliseconds short of running out when the next one starts. Kept, they would hide what
    // was copied in by hand since for one more interval: those past half their trust are due.
    this.#expire(this.#ttlMs / 2)
    const due = known.folders.filter((folder) => {
      const remembered = this.#folders.get(folder)
      return remembered === undefined || this.#stale(remembered)
    })
    const rootDue = this.#root === undefined || this.#stale(this.#root)
    let keys = known.files.length
    for (const folder of known.folders) keys += this.#known.get(folder)?.files.length ?? 1
    const flatLists = 1 + Math.ceil(keys / 1000)
    if (due.length + (rootDue ? 1 : 0) <= flatLists) return
    this.#refreshing ??= this.#refreshFlat(due, rootDue).finally(() => {
      this.#refreshing = undefined
    })
    await this.#refreshing
  }

  async #refreshFlat(due: readonly string[], rootDue: boolean): Promise<void> {
    const since = this.#epoch
    const at = Date.now()
    const flat = this.#flatListing()
    const tree = flat.catch((err: unknown) => {
      this.#context.log.warn({ err }, 'Cannot list the whole tree at once: listing folder by folder')
      return undefined
    })
    for (const folder of due) {
      const remembered = remember(
        tree.then((listed) => (listed === undefined ? this.#listFolder(folder) : listed.listings.get(folder))),
      )
      this.#folders.set(folder, remembered)
      remembered.value.catch(() => {
        if (this.#folders.get(folder) === remembered) this.#folders.delete(folder)
      })
    }
    const listed = await tree
    if (listed === undefined) return
    const root = {
      token: rootToken(listed.folders, listed.rootFiles),
      folders: listed.folders,
      files: listed.rootFiles,
    }
    const current = this.#root
    if (this.#tookRoot(root, since) && rootDue && (current === undefined || this.#stale(current)))
      this.#root = { ...settled(root), at }
    // With the top level: folders that came since its last listing need no LIST of their own either.
    for (const folder of new Set([...due, ...(this.#knownRoot?.folders ?? [])])) {
      const listing = listed.listings.get(folder)
      const remembered = this.#folders.get(folder)
      if (this.#tookFolder(folder, listing, since) && (remembered === undefined || this.#stale(remembered)))
        this.#folders.set(folder, { ...settled(listing), at })
    }
  }

  /**
   * Take a snapshot's listings as this storage's own, remembered from now (trusted for the
   * TTL, like a listing just made: files copied in by hand show after it, as after a listing).
   */
  prime(state: TreeListings): void {
    this.forgetAll()
    const root: RootListing = {
      token: rootToken(state.folders, state.rootFiles),
      folders: state.folders,
      files: state.rootFiles,
    }
    this.#root = settled(root)
    this.#knownRoot = root
    this.#rootChanged = false
    this.#known.clear()
    this.#changed.clear()
    for (const folder of state.folders) {
      const listing = state.listings.get(folder)
      // A folder of the top level with no listing held only a folder marker, or vanished.
      if (listing === undefined) this.#changed.add(folder)
      else {
        this.#known.set(folder, listing)
        this.#folders.set(folder, settled(listing))
      }
    }
  }

  /**
   * A journal record written after the snapshot: its folder is listed again when asked for.
   * A publish into a folder the top level did not have adds it there, without a LIST of the
   * top level (a removal may empty a folder: its next listing says so).
   */
  replayed(folder: string, op: 'publish' | 'remove'): void {
    this.#folders.delete(folder)
    this.#forgottenAt.set(folder, ++this.#epoch)
    this.#changed.add(folder)
    const root = this.#knownRoot
    if (op === 'publish' && root !== undefined && !root.folders.includes(folder)) {
      const folders = [...root.folders, folder]
      const grown = { token: rootToken(folders, root.files), folders, files: root.files }
      this.#knownRoot = grown
      if (this.#root !== undefined && !this.#root.running) this.#root = { ...settled(grown), at: this.#root.at }
    }
  }

  /**
   * Everything known, each changed folder (and the top level, if changed) listed again
   * first: the state a snapshot as of now holds. Costs a LIST per changed folder only.
   */
  async current(): Promise<TreeListings> {
    for (let round = 0; round < 3 && (this.#rootChanged || this.#changed.size > 0); round++) {
      // Listed anew, not taken from what is remembered (a listing of a folder not there yet).
      if (this.#rootChanged || this.#knownRoot === undefined) {
        this.#root = undefined
        await this.listRoot()
      }
      const changed = [...this.#changed]
      for (const folder of changed) this.#folders.delete(folder)
      await Promise.all(changed.map((folder) => this.listFolder(folder)))
    }
    if (this.#rootChanged || this.#changed.size > 0 || this.#knownRoot === undefined)
      throw new Error('the tree kept changing while it was listed')
    return { folders: this.#knownRoot.folders, rootFiles: this.#knownRoot.files, listings: new Map(this.#known) }
  }

  // Old listings of folders nobody asks about any more would keep their files in memory.
  #prune(): void {
    if (Date.now() - this.#prunedAt < this.#ttlMs) return
    this.#prunedAt = Date.now()
    for (const [folder, remembered] of this.#folders) if (this.#stale(remembered)) this.#folders.delete(folder)
  }

  /** Forget the settled listings at least `ageMs` old (a listing still running is kept). */
  #expire(ageMs: number): void {
    if (this.#root !== undefined && settledFor(this.#root, ageMs)) this.#root = undefined
    for (const [folder, remembered] of this.#folders) if (settledFor(remembered, ageMs)) this.#folders.delete(folder)
  }

  // Single flight: a listing still running is shared whatever its age.
  #stale(remembered: Remembered<unknown>): boolean {
    return settledFor(remembered, this.#ttlMs)
  }

  async #listRoot(): Promise<RootListing> {
    const since = this.#epoch
    const level = await this.#level('', 'list')
    const folders = level.folders.filter(isPlainName)
    const files = level.objects.map((object) => object.name).filter(isPlainName)
    const root = { token: rootToken(folders, files), folders, files }
    this.#tookRoot(root, since)
    return root
  }

  // Anything forgotten since `since` may be a folder that came or went while the listing ran.
  #tookRoot(root: RootListing, since: number): boolean {
    const { folders } = root
    if (this.#epoch !== since) return false
    this.#knownRoot = root
    this.#rootChanged = false
    const present = new Set(folders)
    for (const folder of [...this.#known.keys()]) if (!present.has(folder)) this.#known.delete(folder)
    for (const folder of [...this.#changed]) if (!present.has(folder)) this.#changed.delete(folder)
    for (const folder of folders) if (!this.#known.has(folder)) this.#changed.add(folder)
    return true
  }

  async #listFolder(folder: string): Promise<FolderListing | undefined> {
    if (!isPlainName(folder)) return undefined
    const since = this.#epoch
    const level = await this.#level(`${folder}/`, 'list a folder')
    const listing = level.exists ? folderListing(folder, level) : undefined
    this.#tookFolder(folder, listing, since)
    return listing
  }

  // What is known of a folder changes only when nothing forgot it while its listing ran.
  #tookFolder(folder: string, listing: FolderListing | undefined, since: number): boolean {
    if (this.#allForgottenAt > since || (this.#forgottenAt.get(folder) ?? 0) > since) return false
    if (listing === undefined) this.#known.delete(folder)
    else this.#known.set(folder, listing)
    this.#changed.delete(folder)
    this.#forgottenAt.delete(folder)
    return true
  }

  async #level(relative: string, action: string): Promise<Level> {
    while (this.#listing >= MAX_LISTS)
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve)
      })
    this.#listing++
    try {
      return await this.#listLevel(relative, action)
    } finally {
      this.#listing--
      this.#waiting.shift()?.()
    }
  }

  // Keys come in the order of their UTF-8 bytes (ListObjectsV2 reference). No folder or file
  // name starts with "." (isPlainName), so everything under the hidden folder, and any other
  // dot-name, is skipped: the names sorting before "." are listed up to the first one that does
  // not, then the listing goes on after "<prefix>/" ('/' is the byte after '.'). The facts of
  // every file under `.eggserve/` are as many keys as the files: never listed.
  async #flatListing(): Promise<TreeListings> {
    const prefix = objectKey(this.#context, '')
    const objects = new Map<string, Level['objects'][number][]>()
    const rootFiles: string[] = []
    const take = (key: string, object: Omit<Level['objects'][number], 'name'>): void => {
      const slash = key.indexOf('/')
      if (slash < 0) {
        if (isPlainName(key)) rootFiles.push(key)
        return
      }
      const folder = key.slice(0, slash)
      if (!isPlainName(folder)) return
      let folderObjects = objects.get(folder)
      if (folderObjects === undefined) objects.set(folder, (folderObjects = []))
      // A deeper key ("folder/sub/x") or the folder marker ("folder/") makes the folder exist only.
      const name = key.slice(slash + 1)
      if (isPlainName(name)) folderObjects.push({ ...object, name })
    }
    await this.#pages({ prefix }, (key, object) => {
      if (key.slice(prefix.length) >= '.') return false
      take(key.slice(prefix.length), object)
      return true
    })
    await this.#pages({ prefix, startAfter: `${prefix}/` }, (key, object) => {
      take(key.slice(prefix.length), object)
      return true
    })
    const listings = new Map<string, FolderListing>()
    for (const [folder, level] of objects)
      listings.set(folder, folderListing(folder, { objects: level, folders: [], exists: true }))
    return { folders: [...objects.keys()], rootFiles, listings }
  }

  // Pages of a flat listing, each key handed to `each` until it answers false.
  async #pages(
    request: ListRequest,
    each: (key: string, object: Omit<Level['objects'][number], 'name'>) => boolean,
  ): Promise<void> {
    await listPages(this.#context, request, { action: 'list' }, (page) =>
      (page.Contents ?? []).every(
        (object) =>
          object.Key === undefined ||
          each(object.Key, { etag: plainEtag(object.ETag), size: object.Size ?? 0, lastModified: object.LastModified }),
      ),
    )
  }

  async #listLevel(relative: string, action: string): Promise<Level> {
    const prefix = objectKey(this.#context, relative)
    const objects: Level['objects'][number][] = []
    const folders: string[] = []
    let exists = false
    const failure = { action, ...(relative === '' ? {} : { key: relative }) }
    await listPages(this.#context, { prefix, delimiter: '/' }, failure, (page) => {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue
        exists = true
        objects.push({
          name: object.Key.slice(prefix.length),
          etag: plainEtag(object.ETag),
          size: object.Size ?? 0,
          lastModified: object.LastModified,
        })
      }
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix === undefined) continue
        exists = true
        folders.push(common.Prefix.slice(prefix.length, -1))
      }
      return true
    })
    return { objects, folders, exists }
  }
}

function digest(lines: readonly string[]): string {
  return createHash('sha256').update(lines.join('\n')).digest('base64url')
}

/** A folder listing's token: it changes when a file comes, goes or is replaced. */
export function folderToken(files: readonly StoredFile[]): string {
  return digest(files.map((file) => file.identity))
}

// The root's token changes when folders or files come or go (RootListing's contract).
function rootToken(folders: readonly string[], files: readonly string[]): string {
  return digest([...folders.map((name) => `${name}/`), ...files])
}

function folderListing(folder: string, level: Level): FolderListing {
  const files: StoredFile[] = []
  for (const object of level.objects) {
    // "folder/" itself is a folder marker (the S3 console's "Create folder"), not a file.
    if (!isPlainName(object.name)) continue
    files.push(describeObject(makeKey(folder, object.name), object))
  }
  return { token: folderToken(files), files }
}

function settled<T>(value: T): Remembered<T> {
  return { at: Date.now(), value: Promise.resolve(value), running: false }
}

/** Whether a listing is done and at least `ageMs` old. */
function settledFor(remembered: Remembered<unknown>, ageMs: number): boolean {
  return !remembered.running && Date.now() - remembered.at >= ageMs
}

// A listing's age counts from when it was asked for: what it says is at least that fresh.
function remember<T>(value: Promise<T>): Remembered<T> {
  const remembered: Remembered<T> = { at: Date.now(), value, running: true }
  const done = (): void => {
    remembered.running = false
  }
  value.then(done, done)
  return remembered
}
