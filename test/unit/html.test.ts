// HTML escaping, the link page (PEP 503 and the Simple Repository API; why each rule: docs/http.md,
// "Pages") and the two URL trees (relative hrefs, so a path prefix works).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Digests } from '../../src/core/digests.js'
import type { ParsedDistFilename } from '../../src/core/filenames.js'
import type { PageFile, ProjectPage, ProjectSummary } from '../../src/core/index-model.js'
import { escapeHtml, html, SafeHtml } from '../../src/render/html.js'
import { renderLinkPage, type LinkPage } from '../../src/render/pages.js'
import { renderProjectHtml, renderRootHtml } from '../../src/render/simple-html.js'
import { encodeSegment, LEGACY_TREE, SIMPLE_TREE, type Tree } from '../../src/render/trees.js'

const MD5 = 'd41d8cd98f00b204e9800998ecf8427e'
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

// The renderers read only folder, filename and digests; `parsed` is a plausible stand-in.
function hashedFile(folder: string, filename: string, digests: Digests): PageFile {
  const parsed: ParsedDistFilename = { kind: 'sdist', name: folder, project: folder.toLowerCase(), version: '1.0' }
  return {
    file: {
      folder,
      filename,
      key: `${folder}/${filename}`,
      parsed,
      size: 1,
      mtimeMs: 0,
      identity: `${folder}/${filename}:1:0`,
    },
    facts: { digests },
  }
}

// Anchors in document order: [href attribute as written, text as written].
function anchors(document: string): [string, string][] {
  return [...document.matchAll(/<a href="([^"]*)"[^>]*>([^<]*)<\/a>/g)].map((match) => [match[1] ?? '', match[2] ?? ''])
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** A rendered page read back as title and links, so the tables below compare plain values. */
function readBack(document: string): LinkPage {
  const title = /<title>([^<]*)<\/title>/.exec(document)?.[1] ?? ''
  return {
    title: unescapeHtml(title),
    links: anchors(document).map(([href, text]) => ({ href: unescapeHtml(href), text: unescapeHtml(text) })),
  }
}

const projectPage =
  (tree: Tree) =>
  (page: ProjectPage, algorithm: 'md5' | 'sha256' | 'sha384' | 'sha512'): LinkPage =>
    readBack(renderProjectHtml(page, tree, algorithm))
const rootPage =
  (tree: Tree) =>
  (projects: readonly ProjectSummary[]): LinkPage =>
    readBack(renderRootHtml(projects, tree))
const legacyProjectPage = projectPage(LEGACY_TREE)
const simpleProjectPage = projectPage(SIMPLE_TREE)
const legacyRootPage = rootPage(LEGACY_TREE)
const simpleRootPage = rootPage(SIMPLE_TREE)

await describe('escapeHtml', async () => {
  const cases: readonly (readonly [string, string])[] = [
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
    ['>=3.8,<4', '&gt;=3.8,&lt;4'],
    ['<script>alert("x")</script>', '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'],
    ['&amp;', '&amp;amp;'],
    ['a & b & c', 'a &amp; b &amp; c'],
    ['it\'s "quoted"', 'it&#39;s &quot;quoted&quot;'],
    ['plain-text_1.0', 'plain-text_1.0'],
    ['', ''],
    ['ünïcödé ✓', 'ünïcödé ✓'],
  ]
  for (const [input, expected] of cases) {
    await test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(escapeHtml(input), expected)
    })
  }
})

await describe('html template', async () => {
  await test('escapes interpolated strings', () => {
    const name = '<b>"x" & \'y\'</b>'
    assert.equal(
      html`<p title="${name}">${name}</p>`.value,
      '<p title="&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;">&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;</p>',
    )
  })

  await test('inserts numbers as they are', () => {
    assert.equal(html`<td>${42}</td><td>${-1.5}</td>`.value, '<td>42</td><td>-1.5</td>')
  })

  await test('keeps SafeHtml, including nested templates, unescaped', () => {
    const inner = html`<i>${'a<b'}</i>`
    assert.ok(inner instanceof SafeHtml)
    assert.equal(html`<p>${inner}</p>`.value, '<p><i>a&lt;b</i></p>')
    assert.equal(html`${new SafeHtml('<br>')}`.value, '<br>')
    assert.equal(String(html`<hr>`), '<hr>')
  })

  await test('joins arrays without separators, escaping each item', () => {
    assert.equal(html`<ul>${['<1>', html`<li>2</li>`, 3]}</ul>`.value, '<ul>&lt;1&gt;<li>2</li>3</ul>')
    assert.equal(html`[${[['a', ['&']], []]}]`.value, '[a&amp;]')
    assert.equal(html`[${[]}]`.value, '[]')
  })

  await test('keeps the literal parts verbatim', () => {
    assert.equal(html``.value, '')
    assert.equal(html`<a href="x">&amp;</a>`.value, '<a href="x">&amp;</a>')
    assert.equal(html`${'a'}${'b'}`.value, 'ab')
  })
})

await describe('renderLinkPage', async () => {
  await test('renders the whole document exactly', () => {
    const page = renderLinkPage({
      title: 'Links for foo',
      links: [
        { href: 'foo-1.0.tar.gz#md5=abc', text: 'foo-1.0.tar.gz' },
        {
          href: 'foo-0.9.tar.gz',
          text: 'foo-0.9.tar.gz',
          attributes: { 'data-yanked': '', 'data-requires-python': '>=3.8,<4' },
        },
      ],
    })
    assert.equal(
      page,
      [
        '<!DOCTYPE html>',
        '<html>',
        '  <head>',
        '    <meta charset="utf-8">',
        '    <meta name="pypi:repository-version" content="1.1">',
        '    <title>Links for foo</title>',
        '  </head>',
        '  <body>',
        '    <h1>Links for foo</h1>',
        '    <a href="foo-1.0.tar.gz#md5=abc">foo-1.0.tar.gz</a><br>',
        '    <a href="foo-0.9.tar.gz" data-yanked="" data-requires-python="&gt;=3.8,&lt;4">foo-0.9.tar.gz</a><br>',
        '  </body>',
        '</html>',
        '',
      ].join('\n'),
    )
  })

  await test('starts with exactly <!DOCTYPE html> (pip 22.0 to 22.0.2 refuse anything else)', () => {
    for (const links of [[], [{ href: 'a/', text: 'a' }]]) {
      const page = renderLinkPage({ title: 'T', links })
      assert.ok(page.startsWith('<!DOCTYPE html>\n<html>'), page.slice(0, 40))
    }
  })

  await test('declares pypi:repository-version in the head (PEP 629)', () => {
    const page = renderLinkPage({ title: 'T', links: [] })
    const head = /<head>([\s\S]*)<\/head>/.exec(page)?.[1] ?? ''
    assert.match(head, /<meta name="pypi:repository-version" content="1\.\d+">/)
  })

  await test('an empty page has no anchors', () => {
    assert.deepEqual(anchors(renderLinkPage({ title: 'Links for empty', links: [] })), [])
  })

  await test('escapes a hostile title, href, text and attribute value', () => {
    const evil = '<script>alert("x")</script>'
    const page = renderLinkPage({
      title: evil,
      links: [
        { href: `x" onclick="${evil}`, text: `evil"${evil}'.tar.gz`, attributes: { 'data-yanked': `"><script>` } },
      ],
    })
    assert.equal(page.includes('<script>'), false)
    assert.equal(page.includes('onclick="'), false)
    assert.match(page, /<title>&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;<\/title>/)
    assert.match(page, /<h1>&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;<\/h1>/)
    assert.ok(page.includes('<a href="x&quot; onclick=&quot;&lt;script&gt;'), page)
    assert.ok(page.includes('>evil&quot;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;.tar.gz</a>'), page)
    assert.ok(page.includes(' data-yanked="&quot;&gt;&lt;script&gt;">'), page)
  })

  await test('renders every attribute as name="value", never bare (html.parser reads a bare one as None)', () => {
    const page = renderLinkPage({
      title: 'T',
      links: [
        {
          href: 'f.whl',
          text: 'f.whl',
          attributes: {
            'data-yanked': '',
            'data-core-metadata': 'sha256=abc',
            'data-dist-info-metadata': 'sha256=abc',
          },
        },
      ],
    })
    const tag = /<a [^>]*>/.exec(page)?.[0] ?? ''
    assert.equal(
      tag,
      '<a href="f.whl" data-yanked="" data-core-metadata="sha256=abc" data-dist-info-metadata="sha256=abc">',
    )
    // Every attribute in the tag has a quoted value.
    const attributes = tag.slice(3, -1).trim().split(/\s+/)
    for (const attribute of attributes) assert.match(attribute, /^[a-z-]+="[^"]*"$/, attribute)
  })
})

await describe('encodeSegment', async () => {
  const cases: readonly (readonly [string, string])[] = [
    ["'", '%27'],
    ['(', '%28'],
    [')', '%29'],
    ['!', '%21'],
    ['*', '%2A'],
    [' ', '%20'],
    ['#', '%23'],
    ['?', '%3F'],
    ['%', '%25'],
    ['+', '%2B'],
    ['/', '%2F'],
    ['\\', '%5C'],
    ['"', '%22'],
    ['&', '%26'],
    ['<>', '%3C%3E'],
    ['é', '%C3%A9'],
    ['foo-1.0_x~y.tar.gz', 'foo-1.0_x~y.tar.gz'],
    ["it's (a) !*test* #1?+%.whl", 'it%27s%20%28a%29%20%21%2Atest%2A%20%231%3F%2B%25.whl'],
  ]
  for (const [input, expected] of cases) {
    await test(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(encodeSegment(input), expected)
      assert.equal(decodeURIComponent(encodeSegment(input)), input)
    })
  }
})

await describe('URL trees', async () => {
  const page: ProjectPage = {
    folder: 'Foo_Bar',
    project: 'foo-bar',
    files: [
      hashedFile('Foo_Bar', 'foo_bar-1.0-py3-none-any.whl', { md5: MD5, sha256: SHA256 }),
      hashedFile('Foo_Bar', "foo_bar-1.0+it's.(x).tar.gz", { md5: MD5, sha256: SHA256 }),
    ],
  }

  await test('legacyProjectPage: page-relative <file>#md5=<hex>', () => {
    assert.deepEqual(legacyProjectPage(page, 'md5'), {
      title: 'Links for foo-bar',
      links: [
        { href: `foo_bar-1.0-py3-none-any.whl#md5=${MD5}`, text: 'foo_bar-1.0-py3-none-any.whl' },
        { href: `foo_bar-1.0%2Bit%27s.%28x%29.tar.gz#md5=${MD5}`, text: "foo_bar-1.0+it's.(x).tar.gz" },
      ],
    })
  })

  await test('legacyProjectPage: the fragment follows the configured algorithm', () => {
    assert.deepEqual(
      legacyProjectPage(page, 'sha256').links.map((link) => link.href),
      [`foo_bar-1.0-py3-none-any.whl#sha256=${SHA256}`, `foo_bar-1.0%2Bit%27s.%28x%29.tar.gz#sha256=${SHA256}`],
    )
  })

  await test('simpleProjectPage: ../../packages/<folder>/<file>#sha256=<hex>', () => {
    assert.deepEqual(simpleProjectPage(page, 'sha256'), {
      title: 'Links for foo-bar',
      links: [
        {
          href: `../../packages/Foo_Bar/foo_bar-1.0-py3-none-any.whl#sha256=${SHA256}`,
          text: 'foo_bar-1.0-py3-none-any.whl',
        },
        {
          href: `../../packages/Foo_Bar/foo_bar-1.0%2Bit%27s.%28x%29.tar.gz#sha256=${SHA256}`,
          text: "foo_bar-1.0+it's.(x).tar.gz",
        },
      ],
    })
  })

  await test('simpleProjectPage: md5 anchors when configured', () => {
    assert.deepEqual(
      simpleProjectPage(page, 'md5').links.map((link) => link.href),
      [
        `../../packages/Foo_Bar/foo_bar-1.0-py3-none-any.whl#md5=${MD5}`,
        `../../packages/Foo_Bar/foo_bar-1.0%2Bit%27s.%28x%29.tar.gz#md5=${MD5}`,
      ],
    )
  })

  await test('exactly one fragment per href, never one for a digest that is missing (uv reads one)', () => {
    const sha512 = 'cf'.repeat(64)
    const mixed: ProjectPage = {
      folder: 'foo',
      project: 'foo',
      files: [
        hashedFile('foo', 'foo-1.0.tar.gz', { md5: MD5, sha256: SHA256, sha512 }),
        hashedFile('foo', 'foo-2.0.tar.gz', { md5: MD5 }),
      ],
    }
    assert.deepEqual(
      simpleProjectPage(mixed, 'sha512').links.map((link) => link.href),
      [`../../packages/foo/foo-1.0.tar.gz#sha512=${sha512}`, '../../packages/foo/foo-2.0.tar.gz'],
    )
    for (const algorithm of ['md5', 'sha256', 'sha384', 'sha512'] as const) {
      for (const link of [...legacyProjectPage(mixed, algorithm).links, ...simpleProjectPage(mixed, algorithm).links]) {
        assert.ok(link.href.split('#').length <= 2, link.href)
        assert.ok(!link.href.includes('&'), link.href)
      }
    }
  })

  await test('link text is the bare filename and the last path segment of the href (clients take the filename from the URL)', () => {
    for (const links of [legacyProjectPage(page, 'md5').links, simpleProjectPage(page, 'sha256').links]) {
      for (const link of links) {
        assert.ok(!link.text.includes('/'), link.text)
        const path = link.href.split('#')[0] ?? ''
        assert.equal(decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)), link.text)
        assert.ok(!path.includes('?'), path)
      }
    }
  })

  await test('simpleRootPage: href is the normalized name with a slash, text the folder name (uv reads the name from the text)', () => {
    assert.deepEqual(
      simpleRootPage([
        { folder: 'Zope.Interface', project: 'zope-interface' },
        { folder: 'absl_py', project: 'absl-py' },
      ]),
      {
        title: 'Simple index',
        links: [
          { href: 'zope-interface/', text: 'Zope.Interface' },
          { href: 'absl-py/', text: 'absl_py' },
        ],
      },
    )
  })

  await test('legacyRootPage: href is the encoded folder with a slash, text the folder name', () => {
    assert.deepEqual(
      legacyRootPage([
        { folder: 'Zope.Interface', project: 'zope-interface' },
        { folder: 'absl_py', project: 'absl-py' },
      ]).links,
      [
        { href: 'Zope.Interface/', text: 'Zope.Interface' },
        { href: 'absl_py/', text: 'absl_py' },
      ],
    )
  })

  await test('a hostile filename survives the whole path to the page escaped and encoded', () => {
    const filename = 'evil-1.0"<script>.tar.gz'
    const hostile: ProjectPage = {
      folder: 'evil',
      project: 'evil',
      files: [hashedFile('evil', filename, { sha256: SHA256 })],
    }
    const document = renderProjectHtml(hostile, SIMPLE_TREE, 'sha256')
    assert.equal(document.includes('<script>'), false)
    assert.deepEqual(anchors(document), [
      [`../../packages/evil/evil-1.0%22%3Cscript%3E.tar.gz#sha256=${SHA256}`, 'evil-1.0&quot;&lt;script&gt;.tar.gz'],
    ])
  })
})
