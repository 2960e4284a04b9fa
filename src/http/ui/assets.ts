// The browse UI's static files (ui-assets/ at the package root), under content-hashed names
// so they can be cached for ever: a new release of a file is a new URL.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { AssetNames } from '../../render/ui/layout.js'

/** Where the static files are, the same from src/http/ui/ and dist/http/ui/. */
export const ASSETS_DIR = fileURLToPath(new URL('../../../ui-assets/', import.meta.url))

const FILES = { css: 'ui.css', js: 'ui.js', icon: 'icon.svg' } as const

/** The hashed names, and the real file behind each. */
export interface UiAssets {
  readonly names: AssetNames
  /** Hashed name → file name in ASSETS_DIR. */
  readonly files: ReadonlyMap<string, string>
}

/** Read and hash the static files (once, when the app is built). */
export async function loadAssets(dir = ASSETS_DIR): Promise<UiAssets> {
  const files = new Map<string, string>()
  const named = async (file: string): Promise<string> => {
    const bytes = await readFile(`${dir}${file}`)
    const dot = file.lastIndexOf('.')
    const hashed = `${file.slice(0, dot)}.${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}${file.slice(dot)}`
    files.set(hashed, file)
    return hashed
  }
  const [css, js, icon] = await Promise.all([named(FILES.css), named(FILES.js), named(FILES.icon)])
  return { names: { css, js, icon }, files }
}
