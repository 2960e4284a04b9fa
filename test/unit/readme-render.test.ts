// README rendering: the sanitizer (readme_renderer's allowlist plus this page's rules), Markdown
// through markdown-it, reStructuredText through Debian's readme_renderer when installed.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderMarkdown } from '../../src/readme/markdown.js'
import { ReadmeRenderer } from '../../src/readme/readme-renderer.js'
import { renderRst } from '../../src/readme/rst.js'
import { sanitizeReadme } from '../../src/readme/sanitize.js'
import { warmUp } from '../../src/readme/warm-up.js'
import { memoryLogger } from '../helpers/build-app.js'
import { needTool } from '../helpers/tools.js'

const OFF = { remoteImages: false }

await test('the sanitizer keeps the allowlist and drops everything else', () => {
  assert.equal(
    sanitizeReadme('<p align="center" onclick="x()">a<script>alert(1)</script></p>', OFF),
    '<p align="center">a</p>',
  )
  // CVE-2026-44990 (GHSA-rpr9-rxv7-x643): the <xmp> content must not come back as markup.
  assert.equal(sanitizeReadme('<xmp><script>alert(1)</script></xmp>', OFF), '')
  // GHSA-jxwj-j7wr-gfrw (fixed upstream in 2.17.6): textarea is not allowed here, so nothing of it survives.
  assert.equal(sanitizeReadme('<textarea></textarea/><img src=x onerror=alert(1)>', OFF), '')
  assert.equal(
    sanitizeReadme('<svg><animate attributeName="href" values="javascript:alert(1)"/><a>x</a></svg>', OFF),
    '<a>x</a>',
  )
  assert.equal(
    sanitizeReadme(
      '<a href="jav&#x09;ascript:alert(1)">t</a><a href="data:text/html,x">d</a><a href="//evil.example/">p</a>',
      OFF,
    ),
    '<a>t</a><a>d</a><a>p</a>',
  )
  assert.equal(
    sanitizeReadme('<a href="https://example.org/" rel="opener">e</a>', OFF),
    '<a href="https://example.org/" rel="nofollow noopener">e</a>',
  )
  assert.equal(sanitizeReadme('<a href="docs/usage.md">relative</a>', OFF), '<a>relative</a>')
  assert.equal(
    sanitizeReadme('<h2 id="search">S</h2><a href="#search">go</a>', OFF),
    '<h2 id="user-content-search">S</h2><a href="#user-content-search">go</a>',
  )
  assert.equal(
    sanitizeReadme('<input type="checkbox" checked><input type="text" value="x">', OFF),
    '<input type="checkbox" checked disabled />',
  )
  assert.equal(sanitizeReadme('<p style="color:red" class="x">s</p>', OFF), '<p class="x">s</p>')
})

await test('remote images only when allowed; otherwise their alt text', () => {
  const img = '<img src="https://example.org/logo.png" alt="Logo" onerror="x()">'
  assert.equal(sanitizeReadme(img, OFF), '<span class="readme-image">[image: Logo]</span>')
  assert.equal(sanitizeReadme(img, { remoteImages: true }), '<img src="https://example.org/logo.png" alt="Logo" />')
  assert.equal(
    sanitizeReadme('<img src="data:image/svg+xml,<svg onload=alert(1)>">', { remoteImages: true }),
    '<span class="readme-image">[image]</span>',
  )
  assert.equal(
    sanitizeReadme('<img src="javascript:alert(1)" alt="j">', { remoteImages: true }),
    '<span class="readme-image">[image: j]</span>',
  )
})

await test('Markdown: GFM tables and autolinks, raw HTML sanitized, bad link schemes left as text', () => {
  assert.equal(
    renderMarkdown('| a |\n|---|\n| 1 |', OFF),
    '<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n</tr>\n</tbody>\n</table>\n',
  )
  assert.equal(
    renderMarkdown('see https://example.org', OFF),
    '<p>see <a href="https://example.org" rel="nofollow noopener">https://example.org</a></p>\n',
  )
  assert.equal(renderMarkdown('[x](javascript:alert(1))', OFF), '<p>[x](javascript:alert(1))</p>\n')
  assert.equal(
    renderMarkdown('<details><summary>More</summary>\n\n*hidden*\n\n</details>', OFF),
    '<details><summary>More</summary>\n<p><em>hidden</em></p>\n</details>',
  )
})

await test("the README worker's warm-up goes through the rules a README does (links, linkify, images, tables, the sanitizer)", () => {
  const { markdown, html } = warmUp()
  assert.match(markdown, /<a href="https:\/\/example\.org\/c" rel="nofollow noopener">https:\/\/example\.org\/c<\/a>/)
  assert.match(markdown, /<span class="readme-image">\[image: logo\]<\/span>/)
  assert.match(markdown, /<table>/)
  assert.match(markdown, /id="user-content-top"/)
  assert.doesNotMatch(markdown, /<script|x<\/details>/)
  assert.match(html, /<img alt="logo" src="https:\/\/example\.org\/logo\.png" \/>/)
})

await test('reStructuredText through readme_renderer, cleaned again', async (t) => {
  if (
    needTool(t, 'python3 with readme_renderer', (await hasReadmeRenderer()) ? '/usr/bin/python3' : undefined) ===
    undefined
  )
    return
  const result = await renderRst(
    'Title\n=====\n\nSee `docs <https://example.org/>`_ and `bad <javascript:alert(1)>`_.\n',
    { python: '/usr/bin/python3', timeoutMs: 20_000 },
  )
  assert.ok(result.kind === 'html', result.kind)
  assert.equal(
    sanitizeReadme(result.html, OFF),
    '<p>See <a href="https://example.org/" rel="nofollow noopener">docs</a> and <a>bad</a>.</p>\n',
  )
  // raw directives are refused by readme_renderer (halt_level 2), so the text is shown as text.
  assert.deepEqual(
    await renderRst('.. raw:: html\n\n   <script>alert(1)</script>\n', {
      python: '/usr/bin/python3',
      timeoutMs: 20_000,
    }),
    { kind: 'invalid' },
  )
})

await test('the renderer caches by identity, and falls back to escaped text without python3', async (t) => {
  const logs: Record<string, unknown>[] = []
  const renderer = new ReadmeRenderer({ log: memoryLogger(logs), remoteImages: false, python: '/nonexistent/python3' })
  t.after(() => renderer.close())
  const rst = await renderer.render('id-1', { text: 'Title\n=====\n\n<b>not html</b>', format: 'rst' })
  assert.equal(rst.renderedAs, 'text')
  assert.equal(rst.html, '<pre class="readme-text">Title\n=====\n\n&lt;b&gt;not html&lt;/b&gt;</pre>')
  assert.match(rst.note ?? '', /python3-readme-renderer is not installed/)
  assert.ok(
    logs.some((line) => typeof line.msg === 'string' && line.msg.includes('apt-get install python3-readme-renderer')),
  )
  const first = await renderer.render('id-2', { text: '**bold**', format: 'markdown' })
  assert.deepEqual(first, { html: '<p><strong>bold</strong></p>\n', renderedAs: 'markdown' })
  // Same identity, same bytes: the cached rendering, even if asked with another text.
  assert.equal(await renderer.render('id-2', { text: 'other', format: 'markdown' }), first)
  const plain = await renderer.render('id-3', { text: '<script>x</script>', format: 'text' })
  assert.equal(plain.html, '<pre class="readme-text">&lt;script&gt;x&lt;/script&gt;</pre>')
})

async function hasReadmeRenderer(): Promise<boolean> {
  return (await renderRst('x', { python: '/usr/bin/python3', timeoutMs: 20_000 })).kind === 'html'
}
