// Upstream project pages, PEP 691 JSON and PEP 503 HTML, read into one model.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseHtmlPage, parseJsonPage } from '../../src/core/upstream-page.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const PAGE = 'https://up.example/simple/demo/'

await test('PEP 691 JSON: every field passed through, relative URLs resolved, bad files left out', () => {
  const page = parseJsonPage(
    JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: 'demo',
      files: [
        {
          filename: 'demo-1.0-py3-none-any.whl',
          url: '../../files/demo-1.0-py3-none-any.whl',
          hashes: { sha256: A.toUpperCase() },
          'requires-python': '>=3.8',
          yanked: 'broken',
          'core-metadata': { sha256: B },
          size: 1234,
          'upload-time': '2024-01-01T00:00:00.000000Z',
        },
        {
          filename: 'demo-0.9.tar.gz',
          url: 'https://cdn.example/demo-0.9.tar.gz',
          hashes: {},
          yanked: true,
          'dist-info-metadata': true,
        },
        { filename: 'demo-0.8.tar.gz', url: 'https://cdn.example/x', hashes: {}, yanked: false },
        { filename: '../etc/passwd.tar.gz', url: 'https://cdn.example/x', hashes: {} },
        { filename: 'README.txt', url: 'https://cdn.example/README.txt', hashes: {} },
        { filename: 'demo-0.7.tar.gz', url: 'file:///etc/passwd', hashes: {} },
      ],
    }),
    PAGE,
    'demo',
  )
  assert.deepEqual(page.files, [
    {
      filename: 'demo-1.0-py3-none-any.whl',
      url: 'https://up.example/files/demo-1.0-py3-none-any.whl',
      hashes: { sha256: A },
      requiresPython: '>=3.8',
      yanked: 'broken',
      coreMetadata: { sha256: B },
      size: 1234,
      uploadTime: '2024-01-01T00:00:00.000000Z',
    },
    {
      filename: 'demo-0.9.tar.gz',
      url: 'https://cdn.example/demo-0.9.tar.gz',
      hashes: {},
      yanked: '',
      coreMetadata: true,
    },
    { filename: 'demo-0.8.tar.gz', url: 'https://cdn.example/x', hashes: {} },
  ])
  assert.throws(() => parseJsonPage('{"projects": []}', PAGE, 'demo'), SyntaxError)
  assert.throws(() => parseJsonPage('<html>', PAGE, 'demo'), SyntaxError)
})

await test('PEP 503 HTML: fragment hashes, data- attributes with entities, <base>, bad links left out', () => {
  const page = parseHtmlPage(
    `<!DOCTYPE html><html><head><base href="https://mirror.example/pkgs/"></head><body>
    <a href="demo-1.0-py3-none-any.whl#sha256=${A}" data-requires-python="&gt;=3.8" data-yanked="" data-core-metadata="sha256=${B}">demo-1.0-py3-none-any.whl</a>
    <A HREF="/other/demo%2B-0.9.tar.gz#md5=0123" DATA-DIST-INFO-METADATA="true">x</A>
    <a href="javascript:alert(1)">demo-0.8.tar.gz</a>
    <a href="../notes.txt">notes</a>
    <a>no href</a>
  </body></html>`,
    PAGE,
    'demo',
  )
  assert.deepEqual(page.files, [
    {
      filename: 'demo-1.0-py3-none-any.whl',
      url: 'https://mirror.example/pkgs/demo-1.0-py3-none-any.whl',
      hashes: { sha256: A },
      requiresPython: '>=3.8',
      yanked: '',
      coreMetadata: { sha256: B },
    },
    {
      filename: 'demo+-0.9.tar.gz',
      url: 'https://mirror.example/other/demo%2B-0.9.tar.gz',
      hashes: { md5: '0123' },
      coreMetadata: true,
    },
  ])
})
