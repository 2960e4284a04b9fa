// Warming the README worker when it starts. A new worker is a new V8 isolate: the first README
// it renders pays for compiling markdown-it's, linkify-it's, htmlparser2's and sanitize-html's
// functions to bytecode, for linkify-it's lazily built link regexes (large Unicode classes,
// compiled by V8 on their first exec) and for cold inline caches. Measured on the bench's
// 1,000-file project page (docs/ui.md, "Speed"), that was most of a cold page's time. Rendering a
// small README that uses the common constructs a few times at start-up moves that work off the first
// page that has a README (it waits for the warm-up instead when it is the worker's first job); the
// result is thrown away.
import { renderMarkdown } from './markdown.js'
import { sanitizeReadme } from './sanitize.js'

/** A short README with what READMEs commonly hold: headings, inline code, emphasis, links, lists, code, a table, raw HTML. */
export const WARM_UP_MARKDOWN = `# Warm-up

A paragraph with \`code\`, **bold**, *emphasis*, ~~struck~~, a [link](https://example.org/a "title"),
an autolink <https://example.org/b>, a bare URL https://example.org/c and www.example.org,
a mail address user@example.org, an ![image](https://example.org/i.png) and <b>raw HTML</b>: 0123456789abcdef.

## Lists and code

- one
- [x] two

1. first
2. second

> A quote.

\`\`\`python
print("hello")
\`\`\`

| a | b |
| --- | :-: |
| 1 | 2 |

<p align="center" id="top"><a href="https://example.org/"><img src="https://example.org/logo.png" alt="logo"></a></p>
<details><summary>More</summary><script>x</script></details>
`

/** HTML as readme_renderer gives it for reStructuredText (the `html` jobs), with a remote image. */
const WARM_UP_HTML =
  '<div class="section" id="warm-up"><p><a class="reference external" href="https://example.org/">link</a> <img alt="logo" src="https://example.org/logo.png" /></p></div>'

// Renders of the warm-up README at start. One compiles everything to bytecode; more give V8
// the feedback to optimize the hot tokenizer and parser functions. Measured as the worker's own
// CPU time for the bench fixture's README (60 paragraphs) at load average 9 to 13: 30 ms without a
// warm-up, 15 ms after 1 render, 10 ms after 5, 9 ms after 10; the first render costs about
// 40 ms, each further one about 4 ms.
export const WARM_UP_RENDERS = 5

/** Render the warm-up README through both job kinds' code paths; returns what was rendered. */
export function warmUp(): { readonly markdown: string; readonly html: string } {
  const markdown = renderMarkdown(WARM_UP_MARKDOWN, { remoteImages: false })
  const html = sanitizeReadme(WARM_UP_HTML, { remoteImages: true })
  return { markdown, html }
}
