// Reading a small stored file whole (sidecars), with a size cap.
import type { Storage } from './storage.js'

/** The first `maxBytes` bytes of a stored file, or undefined when it does not exist. */
export async function readSmallFile(storage: Storage, key: string, maxBytes: number): Promise<Buffer | undefined> {
  const opened = await storage.open(key)
  if (opened === undefined) return undefined
  try {
    if (opened.file.size === 0) return Buffer.alloc(0)
    const chunks: Buffer[] = []
    for await (const chunk of opened.createReadStream({ start: 0, end: Math.min(opened.file.size, maxBytes) - 1 })) {
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  } finally {
    await opened.close()
  }
}
