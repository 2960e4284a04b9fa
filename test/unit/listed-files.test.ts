// How an upstream file is listed (src/render/listed-files.ts): proxied, at its local URL with
// the pinned sha256 of a cached copy; direct, at the upstream's URL with the upstream page's
// digests and never with credentials (docs/upstream.md, "Direct downloads").
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { UpstreamFile } from '../../src/core/upstream-page.js'
import { parseHtmlPage } from '../../src/core/upstream-page.js'
import { directUrl, listUpstreamFile, renderListedHtml, renderListedJson } from '../../src/render/listed-files.js'
import { LEGACY_TREE } from '../../src/render/trees.js'

const FILE: UpstreamFile = {
  filename: 'demo-1.0-py3-none-any.whl',
  url: 'https://files.example/packages/ab/demo-1.0-py3-none-any.whl',
  hashes: { sha256: 'a'.repeat(64) },
  coreMetadata: { sha256: 'c'.repeat(64) },
}

await test('proxied: the local URL of the tree, the pinned sha256 over the page digests', () => {
  const listed = listUpstreamFile('demo', FILE, { pinnedSha256: 'b'.repeat(64) })
  assert.equal(listed.href, '../../files/upstream/demo/demo-1.0-py3-none-any.whl')
  assert.deepEqual(listed.hashes, { sha256: 'b'.repeat(64) })
  assert.equal(listUpstreamFile('demo', FILE, { tree: LEGACY_TREE }).href, 'demo-1.0-py3-none-any.whl')
})

await test("direct: the upstream's URL in every tree, with the page's digests and metadata", () => {
  for (const tree of [undefined, LEGACY_TREE]) {
    const listed = listUpstreamFile('demo', FILE, {
      pinnedSha256: 'b'.repeat(64),
      direct: true,
      ...(tree === undefined ? {} : { tree }),
    })
    assert.equal(listed.href, FILE.url)
    assert.deepEqual(listed.hashes, FILE.hashes)
    assert.equal(listed.origin, 'upstream')
  }
  const listed = listUpstreamFile('demo', FILE, { direct: true })
  const html = renderListedHtml('demo', [listed], 'sha256')
  assert.ok(html.includes(`href="${FILE.url}#sha256=${'a'.repeat(64)}"`), html)
  assert.ok(html.includes(`data-core-metadata="sha256=${'c'.repeat(64)}"`), html)
  const json = JSON.parse(renderListedJson('demo', [listed])) as { files: { url: string; 'core-metadata': unknown }[] }
  assert.equal(json.files[0]?.url, FILE.url)
  assert.deepEqual(json.files[0]['core-metadata'], { sha256: 'c'.repeat(64) })
})

await test('direct URLs carry no credentials and no fragment; relative hrefs are resolved against the page', () => {
  assert.equal(
    directUrl('https://user:hunter2@cdn.example/f/demo-1.0.tar.gz#sha256=00'),
    'https://cdn.example/f/demo-1.0.tar.gz',
  )
  const page = parseHtmlPage(
    '<a href="../../files/demo-1.0.tar.gz#sha256=' +
      'd'.repeat(64) +
      '">demo-1.0.tar.gz</a><a href="https://u:p@cdn.example/demo-2.0.tar.gz">demo-2.0.tar.gz</a>',
    'https://mirror.example/simple/demo/',
    'demo',
  )
  assert.deepEqual(
    page.files.map((file) => listUpstreamFile('demo', file, { direct: true }).href),
    ['https://mirror.example/files/demo-1.0.tar.gz', 'https://cdn.example/demo-2.0.tar.gz'],
  )
})
