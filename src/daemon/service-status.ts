// The STATUS= line systemd shows in `systemctl status eggserve` (sd_notify(3)) while serving.
import { plural } from '../core/plural.js'
import type { WarmupProgress } from '../live-index/warmup.js'

/**
 * Where the address is served and how far the background hashing is.
 * @example servingStatus('http://0.0.0.0:31001', { files: 10, filesDone: 4, ... })
 * // 'Serving http://0.0.0.0:31001; hashing in the background: 4/10 files'
 */
export function servingStatus(address: string, progress: WarmupProgress | undefined): string {
  if (progress === undefined || progress.done || progress.filesDone >= progress.files) {
    return `Serving ${address}; every file is hashed`
  }
  const eta = progress.etaSeconds === undefined ? '' : `, about ${Math.ceil(progress.etaSeconds)} s left`
  return `Serving ${address}; hashing in the background: ${progress.filesDone}/${plural(progress.files, 'file')}${eta}`
}
