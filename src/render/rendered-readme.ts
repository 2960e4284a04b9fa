// What the project page shows of a README; the renderer (src/readme/) produces it.

/** A README ready to put on a page: clean HTML, how it was rendered, and a note for the reader. */
export interface RenderedReadme {
  readonly html: string
  /** What rendered it: `text` when shown as plain text (by choice or as a fallback). */
  readonly renderedAs: 'markdown' | 'rst' | 'text'
  /** Why it is shown as text when it was meant to be rendered. */
  readonly note?: string
}
