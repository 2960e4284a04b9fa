// Temporary egg trees on disk for tests, removed after the test.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TestContext } from 'node:test'

/** A fresh empty directory, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'eggserve-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  // t.after() hooks run in the order they were added, so this one runs before the close of an
  // app built after the folder was made, while that app may still be writing into it (a page
  // saved to the cache): rm's retries take the ENOTEMPTY such a write causes.
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }))
  return dir
}

/** Write files given as { 'folder/file': content } under root, creating folders. */
export async function writeTree(root: string, files: Readonly<Record<string, string | Uint8Array>>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path)
    await mkdir(dirname(full), { recursive: true })
    await writeFile(full, content)
  }
}
