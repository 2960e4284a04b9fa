// `mkdir -p` that gives up. Node's own recursive mkdir (MKDirpSync / MKDirpAsync in
// src/node_file.cc) takes every ENOENT to mean "the parent is missing": where mkdir answers
// ENOENT although the parent exists (procfs: `--cache-dir /proc/eggserve-cache`), it makes the
// parent (EEXIST), tries again, and loops for ever, in the sync and the async form alike.
import { mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { errnoCode } from '../errors.js'

/** Create `dir` and its missing parents with `mode`; rejects with the system error when it cannot. */
export async function makeDirectory(dir: string, mode: number): Promise<void> {
  const path = resolve(dir)
  if ((await makeOne(path, mode)) !== 'no-parent') return
  const parent = dirname(path)
  if (parent === path) throw new Error(`Cannot create "${path}": the root does not exist`)
  await makeDirectory(parent, mode)
  // The parent is there now, so a second "not found" is final.
  await makeOne(path, mode, true)
}

// 'done' when `path` is a directory now; 'no-parent' on ENOENT (unless final); throws otherwise.
async function makeOne(path: string, mode: number, final = false): Promise<'done' | 'no-parent'> {
  try {
    await mkdir(path, { mode })
    return 'done'
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT' && !final) return 'no-parent'
    // Something is there: fine if it is (or leads to) a directory; stat's error otherwise.
    if (code === 'EEXIST' && (await stat(path)).isDirectory()) return 'done'
    throw err
  }
}
