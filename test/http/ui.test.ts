// The browse UI through inject: pages and their links, search (HTML and JSON), static files,
// security headers, escaping of hostile metadata, access control, and the uploader record.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { README_END, README_START } from '../../src/render/ui/project.js'
import { buildTestApp } from '../helpers/build-app.js'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { upload } from '../helpers/upload-form.js'
import { ALICE, basic, writePasswords } from '../helpers/users.js'

const README =
  '# Demo\n\nSee [the docs](https://docs.example.org/) and <a href="javascript:alert(1)">this</a>.\n\n<img src="https://example.org/logo.png" alt="Logo">\n'
const DEMO = buildWheel(
  {
    name: 'Demo.Pkg',
    version: '1.0',
    summary: 'A demo package for browsing',
    requiresPython: '>=3.8',
    requiresDist: ['requests>=2'],
    metadataLines: [
      'License: MIT',
      'Author: Ada <b>Lovelace</b>',
      'Project-URL: Documentation, https://docs.example.org/',
      'Project-URL: Evil, javascript:alert(document.domain)',
      'Classifier: Programming Language :: Python :: 3',
      'Description-Content-Type: text/markdown',
    ],
    description: README,
  },
  { pythonTag: 'py2.py3' },
)
const DEMO_OLD = buildSdist({ name: 'Demo.Pkg', version: '0.9', summary: 'Older' })
const HOSTILE = buildWheel({
  name: 'hostile',
  version: '2.0',
  summary: '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>',
  metadataLines: [
    'License: </title><script>alert(3)</script>',
    'Home-page: javascript:alert(4)',
    'Description-Content-Type: text/plain',
  ],
  description: '<script>alert(5)</script>',
})

async function fixture(t: TestContext): Promise<string> {
  const root = await tempDir(t)
  await writeDist(join(root, 'Demo.Pkg'), DEMO)
  await writeDist(join(root, 'Demo.Pkg'), DEMO_OLD)
  await writeDist(join(root, 'hostile'), HOSTILE)
  await writeTree(root, { [`Demo.Pkg/${DEMO_OLD.filename}.yanked`]: 'Broken build, use 1.0\n' })
  return root
}

await test('install commands use --public-url, or the base a trusted proxy forwards', async (t) => {
  const root = await fixture(t)
  const { app: pinned } = await buildTestApp(t, { root, publicUrl: 'https://pypi.example.com/eggs/' })
  const res = await pinned.inject({ url: '/-/project/demo-pkg/', headers: { host: 'made.up:1234' } })
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /<code>pip install --index-url https:\/\/pypi\.example\.com\/eggs\/simple\/ demo-pkg<\/code>/)
  assert.doesNotMatch(res.body, /made\.up/)
  const home = await pinned.inject({ url: '/-/', headers: { host: 'made.up:1234' } })
  assert.match(home.body, /https:\/\/pypi\.example\.com\/eggs\/simple\//)
  const { app: proxied } = await buildTestApp(t, { root, trustProxy: ['127.0.0.1'] })
  const forwarded = await proxied.inject({
    url: '/-/project/demo-pkg/',
    remoteAddress: '127.0.0.1',
    headers: {
      host: 'internal:31001',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'pypi.example.com',
      'x-forwarded-prefix': '/eggs',
    },
  })
  assert.match(
    forwarded.body,
    /<code>pip install --index-url https:\/\/pypi\.example\.com\/eggs\/simple\/ demo-pkg<\/code>/,
  )
})

await test('the project page shows the release, its README, metadata, install commands and files', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const res = await app.inject({ url: '/-/project/demo-pkg/', headers: { host: 'pypi.example:8080' } })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  const body = res.body
  assert.match(body, /<h1>Demo\.Pkg <span class="version">1\.0<\/span><\/h1>/)
  assert.match(body, /<p class="lead">A demo package for browsing<\/p>/)
  assert.match(body, /<code>pip install --index-url http:\/\/pypi\.example:8080\/simple\/ demo-pkg<\/code>/)
  assert.match(body, /uv pip install --index-url http:\/\/pypi\.example:8080\/simple\/ demo-pkg/)
  assert.match(
    body,
    /poetry source add --priority=supplemental eggserve http:\/\/pypi\.example:8080\/simple\/\npoetry add --source eggserve demo-pkg/,
  )
  // README: rendered Markdown, links with rel, the javascript: link without href, the image as its alt text.
  assert.match(body, /<h1>Demo<\/h1>/)
  assert.match(body, /<a href="https:\/\/docs\.example\.org\/" rel="nofollow noopener">the docs<\/a>/)
  assert.match(body, /<a>this<\/a>/)
  assert.match(body, /<span class="readme-image">\[image: Logo\]<\/span>/)
  // Metadata: escaped author, only the http(s) project URL, requirements, classifiers.
  assert.match(body, /<dt>Author<\/dt><dd>Ada &lt;b&gt;Lovelace&lt;\/b&gt;<\/dd>/)
  assert.match(body, /<dt>License<\/dt><dd>MIT<\/dd>/)
  assert.match(body, /<a href="https:\/\/docs\.example\.org\/" rel="nofollow noopener">Documentation<\/a>/)
  assert.doesNotMatch(body, /javascript:/)
  assert.match(body, /<li><code>requests&gt;=2<\/code><\/li>/)
  assert.match(body, /Programming Language :: Python :: 3/)
  // The file: download link into the PEP 503 tree, decoded tags, size, sha256, PEP 658 link.
  assert.match(
    body,
    new RegExp(`<a href="\\.\\./\\.\\./\\.\\./packages/Demo\\.Pkg/${DEMO.filename.replace(/\./g, '\\.')}" download>`),
  )
  assert.match(
    body,
    /<dt>Python<\/dt><dd>Python 2, Python 3<\/dd><dt>ABI<\/dt><dd>none<\/dd><dt>Platform<\/dt><dd>any<\/dd>/,
  )
  assert.match(body, /<dt>SHA256<\/dt><dd><code class="hash">[0-9a-f]{64}<\/code><\/dd>/)
  assert.match(body, /\.whl\.metadata">METADATA<\/a>/)
  assert.match(body, /<dt>Requires Python<\/dt><dd><code>&gt;=3\.8<\/code><\/dd>/)
  // History, newest first, with the yanked release marked and its reason.
  assert.match(body, /<li aria-current="page"><a href="\.\.\/\.\.\/project\/demo-pkg\/1\.0\/">1\.0<\/a>/)
  assert.match(
    body,
    /<a href="\.\.\/\.\.\/project\/demo-pkg\/0\.9\/">0\.9<\/a> <time datetime="[^"]+">[\d-]+<\/time> <span class="badge yanked">yanked<\/span> <span class="muted">Broken build, use 1\.0<\/span>/,
  )
  // The same page again comes from the cache: 304 on revalidation.
  const again = await app.inject({
    url: '/-/project/demo-pkg/',
    headers: { host: 'pypi.example:8080', 'if-none-match': String(res.headers.etag) },
  })
  assert.equal(again.statusCode, 304)
})

await test('a version page pins the version and marks a yanked release; names and versions are canonicalized', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const page = await app.inject({ url: '/-/project/demo-pkg/0.9/' })
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /The latest is 1\.0/)
  assert.match(page.body, /<strong>Yanked\.<\/strong> Reason: Broken build, use 1\.0/)
  assert.match(page.body, /pip install --index-url http:\/\/localhost:80\/simple\/ demo-pkg==0\.9/)
  for (const [url, location] of [
    ['/-/project/Demo.Pkg/', '../demo-pkg/'],
    ['/-/project/demo-pkg', 'demo-pkg/'],
    ['/-/project/Demo_Pkg/0.9.0/', '../../demo-pkg/0.9/'],
    ['/-/project/demo-pkg/0.9', '0.9/'],
    ['/-', '-/'],
  ] as const) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 301, url)
    assert.equal(res.headers.location, location, url)
  }
  for (const url of ['/-/project/nothing/', '/-/project/demo-pkg/7.0/', '/-/no/such/page']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 404, url)
    assert.match(res.body, /<h1>Not found<\/h1>/, url)
    assert.equal(res.headers['content-security-policy']?.includes("script-src 'self'"), true)
  }
})

await test('hostile metadata is escaped everywhere; the page carries a strict CSP', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  for (const url of ['/-/project/hostile/', '/-/', '/-/search?q=hostile']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 200, url)
    assert.doesNotMatch(res.body, /<script>alert|<img src=x|<[^>]*\son[a-z]+=|javascript:/, url)
    assert.equal(
      res.headers['content-security-policy'],
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
  }
  const page = (await app.inject({ url: '/-/project/hostile/' })).body
  assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert\(2\)&gt;/)
  assert.match(page, /<pre class="readme-text">&lt;script&gt;alert\(5\)&lt;\/script&gt;<\/pre>/)
  // No inline script or style anywhere: every script and stylesheet is a same-origin file.
  assert.doesNotMatch(page, /<script>|<style|style="| on[a-z]+="/)
})

await test('search: HTML without JavaScript, JSON for search as you type, by name and summary', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  // Summaries are read in the background after the first look at the catalog.
  await app.inject({ url: '/-/' })
  await waitFor(
    async () =>
      (JSON.parse((await app.inject({ url: '/-/api/search?q=browsing' })).body) as { total: number }).total === 1,
  )
  const json = JSON.parse((await app.inject({ url: '/-/api/search?q=DEMO' })).body) as {
    total: number
    results: unknown[]
  }
  assert.deepEqual(json, {
    query: 'DEMO',
    total: 1,
    results: [
      {
        name: 'Demo.Pkg',
        project: 'demo-pkg',
        version: '1.0',
        summary: 'A demo package for browsing',
        url: 'project/demo-pkg/',
      },
    ],
  })
  const bySummary = JSON.parse((await app.inject({ url: '/-/api/search?q=for%20browsing' })).body) as {
    results: { project: string }[]
  }
  assert.deepEqual(
    bySummary.results.map((r) => r.project),
    ['demo-pkg'],
  )
  const html = await app.inject({ url: '/-/search?q=demo_pkg' })
  assert.match(html.body, /1 project found\./)
  assert.match(html.body, /<a href="project\/demo-pkg\/">Demo\.Pkg<\/a>/)
  assert.match(html.body, /value="demo_pkg"/)
  const none = await app.inject({ url: '/-/search?q=%3Cnothing%3E' })
  assert.match(none.body, /0 projects found\./)
  assert.match(none.body, /Search results for “&lt;nothing&gt;”/)
})

await test('the home page lists projects with version, summary and last upload, and recent uploads', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  await app.inject({ url: '/-/' })
  await waitFor(async () => (await app.inject({ url: '/-/' })).body.includes('A demo package for browsing'))
  const body = (await app.inject({ url: '/-/?sort=updated' })).body
  assert.match(body, /2 projects on this index\./)
  assert.match(
    body,
    /<th scope="row"><a href="project\/demo-pkg\/">Demo\.Pkg<\/a><\/th><td>1\.0<\/td><td>A demo package for browsing<\/td><td><time/,
  )
  assert.match(body, /<strong aria-current="true">last upload<\/strong>/)
  assert.match(body, /<h2 id="recent-heading">Recent uploads<\/h2>/)
  assert.match(body, new RegExp(DEMO.filename.replace(/\./g, '\\.')))
  assert.match(body, /pip install --index-url http:\/\/localhost:80\/simple\/ PROJECT/)
})

await test('static files: hashed names, immutable caching, unknown names 404', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t) })
  const page = (await app.inject({ url: '/-/' })).body
  const css = /href="static\/(ui\.[0-9a-f]{12}\.css)"/.exec(page)?.[1]
  const js = /src="static\/(ui\.[0-9a-f]{12}\.js)"/.exec(page)?.[1]
  assert.ok(css !== undefined && js !== undefined, 'hashed asset names in the page')
  const style = await app.inject({ url: `/-/static/${css}` })
  assert.equal(style.statusCode, 200)
  assert.equal(style.headers['content-type'], 'text/css; charset=utf-8')
  assert.equal(style.headers['cache-control'], 'public, max-age=31536000, immutable')
  const script = await app.inject({ url: `/-/static/${js}` })
  // RFC 9239 §6: text/javascript (mime-types), not the obsolete application/javascript.
  assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8')
  const icon = /href="static\/(icon\.[0-9a-f]{12}\.svg)"/.exec(page)?.[1]
  assert.ok(icon !== undefined, 'hashed icon name in the page')
  assert.equal((await app.inject({ url: `/-/static/${icon}` })).headers['content-type'], 'image/svg+xml')
  assert.equal((await app.inject({ url: '/-/static/ui.000000000000.css' })).statusCode, 404)
  assert.equal((await app.inject({ url: '/-/static/ui.css' })).statusCode, 404)
})

await test('--ui-remote-images: README images kept and allowed by the CSP', async (t) => {
  const { app } = await buildTestApp(t, { root: await fixture(t), ui: { remoteImages: true } })
  const res = await app.inject({ url: '/-/project/demo-pkg/' })
  assert.match(res.body, /<img src="https:\/\/example\.org\/logo\.png" alt="Logo" \/>/)
  assert.match(String(res.headers['content-security-policy']), /img-src 'self' https: http:;/)
})

await test('with --authenticate list the UI needs the same credentials; with download only, pages stay open', async (t) => {
  const root = await fixture(t)
  const passwords = await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE])
  const { app } = await buildTestApp(t, { root, passwords, authenticate: ['update', 'list'] })
  for (const url of [
    '/-/',
    '/-/project/demo-pkg/',
    '/-/project/demo-pkg/1.0/',
    '/-/api/search?q=demo',
    '/-/search?q=demo',
    '/-/static/x',
    '/-/project/nothing/',
  ]) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 401, url)
    assert.equal(res.headers['www-authenticate'], 'Basic realm="eggserve"', url)
    assert.equal(res.headers['x-frame-options'], 'DENY', url)
  }
  const ok = await app.inject({ url: '/-/project/demo-pkg/', headers: { authorization: basic(ALICE) } })
  assert.equal(ok.statusCode, 200)
  assert.match(String(ok.headers['cache-control']), /private/)
  const download = await buildTestApp(t, { root, passwords, authenticate: ['update', 'download'] })
  assert.equal((await download.app.inject({ url: '/-/project/demo-pkg/' })).statusCode, 200)
  assert.equal((await download.app.inject({ url: `/packages/Demo.Pkg/${DEMO.filename}` })).statusCode, 401)
})

await test('an authenticated upload records its uploader (outside the eggdir), shown on the page', async (t) => {
  const root = await tempDir(t)
  const passwords = await writePasswords(await tempDir(t, 'eggserve-users-'), [ALICE])
  const { app } = await buildTestApp(t, { root, uploads: {}, passwords })
  const dist = buildWheel({ name: 'uploaded', version: '1.0' })
  const res = await upload(app, dist, { name: 'uploaded', version: '1.0', headers: { authorization: basic(ALICE) } })
  assert.equal(res.statusCode, 200, res.body)
  const page = await app.inject({ url: '/-/project/uploaded/' })
  assert.match(page.body, /<dt>Uploaded<\/dt><dd><time datetime="[^"]+">[^<]+<\/time> by alice<\/dd>/)
  // The project folder holds the file and nothing else.
  assert.deepEqual(await readdir(join(root, 'uploaded')), [dist.filename])
  // A file put there by hand has no uploader.
  await writeDist(join(root, 'uploaded'), buildSdist({ name: 'uploaded', version: '1.0' }))
  const again = await app.inject({ url: '/-/project/uploaded/' })
  assert.equal(again.body.match(/ by alice/g)?.length, 1)
})

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.fail('condition not met')
}

await test('a project page with 1,000 files weighs under 100 KB before its README', async (t) => {
  const root = await tempDir(t)
  const tags = ['cp38', 'cp39', 'cp310', 'cp311', 'cp312', 'cp313', 'pp39', 'pp310', 'py2', 'py3']
  // A long README that does not compress too well (the metadata reader refuses zip-bomb ratios).
  const paragraphs = Array.from(
    { length: 2000 },
    (_, i) => `Paragraph ${i}: ${createHash('sha256').update(String(i)).digest('hex')}.`,
  )
  const readme = {
    metadataLines: ['Description-Content-Type: text/markdown'],
    description: `# Big\n\n${paragraphs.join('\n\n')}\n`,
  }
  for (let minor = 0; minor < 100; minor++) {
    const spec = {
      name: 'big-project',
      version: `1.${minor}`,
      summary: 'Many releases',
      ...(minor === 99 ? readme : {}),
    }
    for (const tag of tags) await writeDist(join(root, 'big-project'), buildWheel(spec, { pythonTag: tag }))
  }
  await writeDist(
    join(root, 'big-project'),
    buildSdist({ name: 'big-project', version: '1.99', summary: 'Many releases', ...readme }),
  )
  const { app } = await buildTestApp(t, { root })
  const res = await app.inject({ url: '/-/project/big-project/' })
  assert.equal(res.statusCode, 200)
  const start = res.body.indexOf(README_START)
  const end = res.body.indexOf(README_END)
  assert.ok(start > 0 && end > start, 'the README is on the page')
  const withoutReadme = Buffer.byteLength(res.body) - Buffer.byteLength(res.body.slice(start, end))
  t.diagnostic(`project page: ${Buffer.byteLength(res.body)} bytes, ${withoutReadme} without the README`)
  assert.ok(withoutReadme < 100 * 1024, `${withoutReadme} bytes`)
  // All 11 files of the latest release are listed, and the newest 100 of the 100 releases.
  assert.equal(res.body.match(/<article class="file"/g)?.length, 11)
  assert.equal(res.body.match(/<li(?: aria-current="page")?><a href="\.\.\/\.\.\/project\/big-project\//g)?.length, 100)
})
