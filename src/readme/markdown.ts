// Markdown READMEs: markdown-it (CommonMark plus GFM tables, strikethrough and autolinks) with
// raw HTML allowed, as PyPI allows it, and everything then cleaned by the README sanitizer.
import MarkdownIt from 'markdown-it'
import { sanitizeReadme, type SanitizeOptions } from './sanitize.js'

let parser: InstanceType<typeof MarkdownIt> | undefined

/** Render a Markdown long description to clean HTML. */
export function renderMarkdown(text: string, options: SanitizeOptions): string {
  // html: true because PyPI READMEs use raw HTML (<p align="center">, <details>); the sanitizer
  // is what makes that safe. markdown-it itself refuses javascript:, vbscript:, file: and data: links.
  parser ??= new MarkdownIt('default', { html: true, linkify: true, typographer: false })
  return sanitizeReadme(parser.render(text), options)
}
