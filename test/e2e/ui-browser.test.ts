// The browse UI in a real browser (Debian's Chromium through playwright-core) against the real
// daemon: every page type passes axe-core at phone and desktop widths in light and dark mode;
// search as you type, the copy button and the links work; and a corpus of XSS payloads in
// metadata and READMEs stays inert in the browser (no flag set, no request to a loopback
// beacon, no CSP violation). With EGGSERVE_SCREENSHOTS=1 (npm run screenshots) the screenshots
// go to docs/screenshots/ for the README; otherwise to a temporary folder. An upstream project's
// page (a second real eggserve as the upstream) shows every file's origin and the release's
// metadata and README (from its PEP 658 file), the project list names the upstream, and both
// pass axe-core too.
import assert from 'node:assert/strict'
import { mkdir, utimes } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { axeViolations, openBrowser, violations, watchPage } from '../helpers/browser.js'
import { buildSdist, buildWheel, writeDist, type BuiltDist } from '../helpers/distributions.js'
import { repoRoot, startServer, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir, writeTree } from '../helpers/temp-tree.js'
import { startUpstreamEggserve, startWithUpstreams } from '../helpers/upstream-index.js'
import { markdownReadme, rstReadme, xssPayloads } from '../helpers/xss-corpus.js'

const DEMO_README = `# requests-toolbelt-demo

A collection of utilities for **people who browse** their private index.

## Install

\`\`\`sh
pip install demo-tools
\`\`\`

| Feature | Status |
| --- | --- |
| Streaming uploads | done |
| Retries | planned |

See [the documentation](https://docs.example.org/demo-tools/) for more.
`

const DEMO_LINES = [
  'License: Apache-2.0',
  'Author: Ada Lovelace',
  'Author-email: ada@example.org',
  'Keywords: http,tools,demo',
  'Project-URL: Documentation, https://docs.example.org/demo-tools/',
  'Project-URL: Source, https://git.example.org/demo-tools',
  'Classifier: Development Status :: 5 - Production/Stable',
  'Classifier: Programming Language :: Python :: 3',
  'Classifier: License :: OSI Approved :: Apache Software License',
  'Description-Content-Type: text/markdown; charset=UTF-8',
]

interface Fixture {
  readonly eggdir: string
  readonly beacon: Beacon
}

interface Beacon {
  readonly url: string
  readonly hits: string[]
}

// A loopback listener that counts every request: a payload that ran would call it.
async function startBeacon(t: TestContext): Promise<Beacon> {
  const hits: string[] = []
  const server = createServer((request, response) => {
    hits.push(request.url ?? '')
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve)
  })
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits }
}

const DAY = 24 * 3600 * 1000
const EPOCH = Date.UTC(2026, 10, 2, 9, 30)

async function place(eggdir: string, folder: string, dist: BuiltDist, days: number): Promise<void> {
  const path = await writeDist(join(eggdir, folder), dist)
  const when = new Date(EPOCH + days * DAY)
  await utimes(path, when, when)
}

async function fixture(t: TestContext): Promise<Fixture> {
  const beacon = await startBeacon(t)
  const eggdir = join(await tempDir(t, 'eggserve-ui-'), 'eggs')
  const spec = {
    name: 'demo-tools',
    summary: 'Utilities for people who browse their private index',
    requiresPython: '>=3.8',
    requiresDist: ['requests>=2.28', 'rich>=13; extra == "cli"'],
    metadataLines: [...DEMO_LINES, 'Provides-Extra: cli'],
    description: DEMO_README,
  }
  for (const [i, version] of ['0.9.0', '1.0.0', '1.1.0', '1.2.0'].entries()) {
    await place(eggdir, 'demo-tools', buildWheel({ ...spec, version }, { pythonTag: 'py3' }), i * 7)
    await place(eggdir, 'demo-tools', buildSdist({ ...spec, version }), i * 7)
  }
  await place(eggdir, 'demo-tools', buildWheel({ ...spec, version: '1.2.0' }, { pythonTag: 'cp312' }), 21)
  await writeTree(eggdir, {
    'demo-tools/demo_tools-1.1.0.tar.gz.yanked': 'Broken metadata, use 1.2.0\n',
    'demo-tools/demo_tools-1.1.0-py3-none-any.whl.yanked': 'Broken metadata, use 1.2.0\n',
  })
  await place(
    eggdir,
    'Legacy.Docs',
    buildSdist({
      name: 'Legacy.Docs',
      version: '2.1',
      summary: 'An older project documented in reStructuredText',
      metadataLines: ['License: BSD', 'Description-Content-Type: text/x-rst'],
      description:
        'Legacy Docs\n===========\n\nA *reStructuredText* README with a `link <https://example.org/>`_.\n\n- one\n- two\n',
    }),
    3,
  )
  for (const [i, name] of ['alpha-utils', 'beta-client', 'gamma-server'].entries()) {
    await place(
      eggdir,
      name,
      buildWheel({ name, version: `0.${i + 1}`, summary: `The ${name.split('-')[0] ?? ''} component` }),
      10 + i,
    )
  }
  const payloads = xssPayloads(beacon.url)
  const hostileLines = [
    `License: ${payloads[0] ?? ''}`,
    `Author: ${payloads[2] ?? ''}`,
    `Keywords: ${payloads[16] ?? ''}`,
    `Home-page: javascript:window.__pwned='home'`,
    `Project-URL: ${payloads[3] ?? ''}, javascript:window.__pwned='purl'`,
    `Project-URL: Data, data:text/html,<script>parent.__pwned='purldata'</script>`,
    `Classifier: ${payloads[13] ?? ''}`,
    `Requires-Dist: ${payloads[4] ?? ''}`,
  ]
  // One project per README format, each with the hostile metadata and its own hostile README.
  const hostileReadmes = [
    { folder: 'xss-markdown', summary: 1, type: 'text/markdown', description: markdownReadme(beacon.url) },
    { folder: 'xss-rst', summary: 17, type: 'text/x-rst', description: rstReadme(beacon.url) },
    { folder: 'xss-text', summary: 18, type: 'text/plain', description: payloads.join('\n') },
    { folder: 'xss-html', summary: 29, type: 'text/html', description: payloads.join('\n\n') },
  ]
  for (const { folder, summary, type, description } of hostileReadmes) {
    const metadataLines = [...hostileLines, `Description-Content-Type: ${type}`]
    const wheel = buildWheel({
      name: folder,
      version: '1.0',
      summary: payloads[summary] ?? '',
      metadataLines,
      description,
    })
    await place(eggdir, folder, wheel, 30)
  }
  return { eggdir, beacon }
}

// The screenshots the README shows.
const SHOTS = new Set([
  'home-desktop-light',
  'project-desktop-light',
  'project-desktop-dark',
  'project-phone-light',
  'version-yanked-desktop-light',
  'project-rst-phone-dark',
])

const screenshotDir = process.env.EGGSERVE_SCREENSHOTS === '1' ? join(repoRoot, 'docs', 'screenshots') : undefined

async function shoot(t: TestContext, page: Page, name: string): Promise<void> {
  const dir = screenshotDir ?? (await tempDir(t, 'eggserve-shots-'))
  await mkdir(dir, { recursive: true })
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false })
}

async function load(page: Page, url: string): Promise<void> {
  const response = await page.goto(url, { waitUntil: 'load' })
  assert.ok(response !== null, url)
  assert.ok(response.status() < 400, `${url}: ${response.status()}`)
}

// Hosts for the settings of the screenshots and the accessibility checks.
const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const

await test('the browse UI in Chromium', async (t) => {
  const context = await openBrowser(t)
  if (context === undefined) return
  const { eggdir, beacon } = await fixture(t)
  const server = await startServer(t, { eggdir })
  const base = `${server.url}/-/`
  const page = await context.newPage()
  const watched = await watchPage(page)

  await t.test('a browser opening / lands in the UI', async () => {
    await load(page, `${server.url}/`)
    assert.equal(page.url(), base)
    assert.equal(await page.title(), 'eggserve: package index')
  })

  await t.test('every page type: no axe-core violations at phone and desktop widths, light and dark', async (st) => {
    const pages = {
      home: base,
      search: `${base}search?q=demo`,
      project: `${base}project/demo-tools/`,
      'version-yanked': `${base}project/demo-tools/1.1.0/`,
      'project-rst': `${base}project/legacy-docs/`,
      'not-found': `${base}project/nothing-here/`,
    }
    for (const [name, url] of Object.entries(pages)) {
      for (const [width, viewport] of Object.entries(WIDTHS)) {
        for (const scheme of ['light', 'dark'] as const) {
          await page.setViewportSize(viewport)
          await page.emulateMedia({ colorScheme: scheme })
          const response = await page.goto(url, { waitUntil: 'load' })
          assert.ok(response !== null)
          assert.equal(response.status(), name === 'not-found' ? 404 : 200, url)
          assert.deepEqual(await axeViolations(page), [], `${name} ${width} ${scheme}`)
          // Nothing wider than the screen: a phone never scrolls sideways.
          const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
          assert.ok(overflow <= 0, `${name} ${width} ${scheme}: ${overflow}px wider than the viewport`)
          if (SHOTS.has(`${name}-${width}-${scheme}`)) await shoot(st, page, `${name}-${width}-${scheme}`)
        }
      }
    }
    await page.emulateMedia({ colorScheme: 'dark' })
    await load(page, base)
    const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor')
    assert.equal(background, 'rgb(13, 17, 23)', 'dark mode applies the dark palette')
    await page.emulateMedia({ colorScheme: 'light' })
    await page.setViewportSize(WIDTHS.desktop)
    assert.deepEqual(await violations(page), [])
    assert.deepEqual(
      watched.errors.filter((error) => !error.includes('404')),
      [],
    )
  })

  await t.test('desktop puts the metadata beside the README; a phone stacks them', async () => {
    await page.setViewportSize(WIDTHS.desktop)
    await load(page, `${base}project/demo-tools/`)
    const main = await page.locator('.project-main').boundingBox()
    const aside = await page.locator('.project-aside').boundingBox()
    assert.ok(main !== null && aside !== null)
    assert.ok(aside.x > main.x + main.width - 1, 'the sidebar is to the right')
    await page.setViewportSize(WIDTHS.phone)
    const phoneMain = await page.locator('.project-main').boundingBox()
    const phoneAside = await page.locator('.project-aside').boundingBox()
    assert.ok(phoneMain !== null && phoneAside !== null)
    assert.ok(phoneAside.y >= phoneMain.y + phoneMain.height - 1, 'the sidebar comes after the main column')
    await page.setViewportSize(WIDTHS.desktop)
  })

  await t.test(
    'typing into search shows results as you type; Enter shows the full results without script',
    async () => {
      await load(page, base)
      await page.locator('#q').pressSequentially('comp', { delay: 30 })
      const suggestions = page.locator('#suggestions li a')
      await suggestions.first().waitFor({ state: 'visible' })
      assert.deepEqual(await suggestions.allTextContents(), ['alpha-utils 0.1', 'beta-client 0.2', 'gamma-server 0.3'])
      assert.match((await page.locator('#suggest-status').textContent()) ?? '', /3 projects found/)
      assert.deepEqual(await axeViolations(page), [], 'with the results shown')
      await shoot(t, page, 'search-as-you-type')
      // Keyboard: Tab from the box reaches the button, then the results; Escape closes them.
      await page.locator('#q').focus()
      await page.keyboard.press('Tab')
      await page.keyboard.press('Tab')
      assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'alpha-utils 0.1')
      await page.locator('#q').press('Escape')
      assert.equal(await page.locator('#suggestions').isHidden(), true)
      await page.locator('#q').fill('comp')
      await suggestions.first().waitFor({ state: 'visible' })
      assert.deepEqual(await suggestions.allTextContents(), ['alpha-utils 0.1', 'beta-client 0.2', 'gamma-server 0.3'])
      await suggestions.nth(1).click()
      await page.waitForURL(`${base}project/beta-client/`)
      await page.locator('#q').fill('private index')
      await page.locator('#q').press('Enter')
      await page.waitForURL(/search\?q=private\+index/)
      assert.deepEqual(await page.locator('table.projects th a').allTextContents(), ['demo-tools'])
    },
  )

  await t.test('the copy button puts the install command on the clipboard', async () => {
    await load(page, `${base}project/demo-tools/`)
    const button = page.locator('button[data-copy="install-pip"]')
    assert.equal(await button.isVisible(), true)
    await button.click()
    const copied = await page.evaluate<string>('navigator.clipboard.readText()')
    assert.equal(copied, `pip install --index-url ${server.url}/simple/ demo-tools`)
    await page.locator('button[data-copy="install-pip"]', { hasText: 'Copied' }).waitFor()
    assert.equal(await page.locator('#copy-status').textContent(), 'Copied to the clipboard')
  })

  await t.test('links lead where they say: history, versions, downloads, back home', async () => {
    await load(page, base)
    await page.getByRole('link', { name: 'demo-tools', exact: true }).first().click()
    await page.waitForURL(`${base}project/demo-tools/`)
    assert.equal(await page.locator('.project-header h1').textContent(), 'demo-tools 1.2.0')
    await page.locator('#history').getByRole('link', { name: '1.1.0' }).click()
    await page.waitForURL(`${base}project/demo-tools/1.1.0/`)
    assert.match((await page.locator('.notice.yanked').textContent()) ?? '', /Reason: Broken metadata, use 1\.2\.0/)
    await page.getByRole('link', { name: 'The latest is 1.2.0' }).click()
    await page.waitForURL(`${base}project/demo-tools/`)
    const href = await page.locator('#files h3 a').first().getAttribute('href')
    assert.ok(href !== null)
    const download = await page.request.get(new URL(href, page.url()).href)
    assert.equal(download.status(), 200)
    assert.equal(download.headers()['content-type'], 'application/zip')
    await page.getByRole('link', { name: 'eggserve' }).click()
    await page.waitForURL(base)
  })

  await t.test('keyboard: the skip link is the first stop and moves focus to the content', async () => {
    await load(page, `${base}project/demo-tools/`)
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content')
    await page.keyboard.press('Enter')
    assert.match(page.url(), /#main$/)
  })

  await t.test('XSS corpus: every payload stays inert in the browser', async () => {
    beacon.hits.length = 0
    for (const project of ['xss-markdown', 'xss-rst', 'xss-text', 'xss-html']) {
      for (const url of [`${base}project/${project}/`, `${base}search?q=${project}`]) {
        await load(page, url)
        // Give anything that would run (onerror, onload, autofocus, timers) the chance to.
        await page.waitForTimeout(300)
        await page.keyboard.press('Tab')
        assert.equal(await page.evaluate<unknown>('window.__pwned'), undefined, url)
        assert.deepEqual(await violations(page), [], url)
      }
    }
    await load(page, base)
    await page.locator('#q').pressSequentially('xss', { delay: 20 })
    await page.locator('#suggestions li a').first().waitFor({ state: 'visible' })
    assert.equal(await page.locator('#suggestions li').count(), 4)
    assert.equal(await page.evaluate<unknown>('window.__pwned'), undefined)
    assert.deepEqual(beacon.hits, [], 'no request reached the loopback beacon')
    assert.deepEqual(watched.dialogs, [])
  })

  await server.stop()
})

await test('with --ui-remote-images, README images load (the beacon can see hits) and payloads still stay inert', async (t) => {
  const context: BrowserContext | undefined = await openBrowser(t)
  if (context === undefined) return
  const { eggdir, beacon } = await fixture(t)
  const server: ServerHandle = await startServer(t, { eggdir, args: ['--ui-remote-images'] })
  const page = await context.newPage()
  await watchPage(page)
  await load(page, `${server.url}/-/project/xss-markdown/`)
  await page.waitForTimeout(300)
  assert.equal(await page.evaluate<unknown>('window.__pwned'), undefined)
  // Only plain images were fetched: the corpus's <img> (without its onerror) and the Markdown image.
  assert.ok(beacon.hits.length > 0, 'the images were requested')
  assert.deepEqual([...new Set(beacon.hits)].sort(), ['/img', '/mdimg'])
  assert.deepEqual(await violations(page), [])
})

await test('an upstream project in Chromium: origins, metadata and README, the list; no axe-core violations', async (t) => {
  const context = await openBrowser(t)
  if (context === undefined) return
  const { server: upstream } = await startUpstreamEggserve(t, {
    updemo: [
      buildWheel({
        name: 'updemo',
        version: '2.0',
        summary: 'An upstream project with a README',
        metadataLines: [...DEMO_LINES],
        description: DEMO_README,
      }),
      buildSdist({ name: 'updemo', version: '2.0' }),
    ],
  })
  const root = await tempDir(t, 'eggserve-ui-upstream-')
  const server = await startWithUpstreams(t, {
    eggdir: join(root, 'eggs'),
    cacheDir: join(root, 'cache'),
    upstreams: [upstream.url],
  })
  const page = await context.newPage()
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    await page.setViewportSize(viewport)
    await load(page, `${server.url}/-/project/updemo/`)
    assert.deepEqual(await axeViolations(page), [], width)
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    assert.ok(overflow <= 0, `${width}: ${overflow}px wider than the viewport`)
    const origins = await page.evaluate<string[]>(
      "[...document.querySelectorAll('article.file')].map((card) => card.dataset.eggserveOrigin + ' ' + card.innerText)",
    )
    assert.equal(origins.length, 2)
    for (const origin of origins)
      assert.match(origin, new RegExp(`^upstream [^]*Origin\\s+upstream ${upstream.url}/simple/`))
    // The release's metadata, from the upstream's PEP 658 file: summary, rendered README, links.
    assert.equal(await page.locator('.project-header .lead').innerText(), 'An upstream project with a README')
    assert.equal(await page.locator('.readme table th').first().innerText(), 'Feature')
    assert.equal(
      await page.locator('.project-aside a', { hasText: 'Source' }).getAttribute('href'),
      'https://git.example.org/demo-tools',
    )
    // The project list names it, with its upstream, now that its page is cached.
    await load(page, `${server.url}/-/`)
    assert.deepEqual(await axeViolations(page), [], `home ${width}`)
    const homeOverflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    assert.ok(homeOverflow <= 0, `home ${width}: ${homeOverflow}px wider than the viewport`)
    assert.equal(
      await page.locator('tr[data-eggserve-origin="upstream"] th').innerText(),
      `updemo\nupstream ${upstream.url}/simple/`,
    )
  }
})
