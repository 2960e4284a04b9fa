// Messages between the README renderer and its worker thread.

/** A job: Markdown to render and clean, or HTML (from readme_renderer) to clean. */
export interface ReadmeJob {
  readonly id: number
  readonly kind: 'markdown' | 'html'
  readonly text: string
  readonly remoteImages: boolean
}

/** The worker's answer to a job. */
export type ReadmeReply =
  | { readonly id: number; readonly ok: true; readonly html: string }
  | { readonly id: number; readonly ok: false; readonly message: string }
