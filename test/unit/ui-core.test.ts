// The browse UI's pure parts: wheel tags in words, browser navigations, release details from metadata.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isBrowserNavigation } from '../../src/core/browser-navigation.js'
import { parseCoreMetadata } from '../../src/core/metadata.js'
import { descriptionFormat, isWebUrl, projectDetails } from '../../src/core/project-details.js'
import { decodeWheelTags } from '../../src/core/wheel-tags.js'

await test('wheel tags are decoded, compressed tag sets included', () => {
  assert.deepEqual(decodeWheelTags('foo-1.0-py2.py3-none-any.whl'), {
    python: ['Python 2', 'Python 3'],
    abi: ['none'],
    platform: ['any'],
  })
  assert.deepEqual(decodeWheelTags('foo-1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'), {
    python: ['CPython 3.12'],
    abi: ['CPython 3.12'],
    platform: ['Linux x86-64, glibc 2.17+ (manylinux)'],
  })
  assert.deepEqual(decodeWheelTags('foo-1.0-cp313-cp313t-musllinux_1_2_aarch64.whl')?.abi, [
    'CPython 3.13 (free-threaded)',
  ])
  assert.deepEqual(decodeWheelTags('foo-1.0-cp313-cp313t-musllinux_1_2_aarch64.whl')?.platform, [
    'Linux ARM64, musl 1.2+ (musllinux)',
  ])
  assert.deepEqual(decodeWheelTags('foo-1.0-cp39-abi3-macosx_11_0_arm64.whl')?.platform, ['macOS 11.0+ ARM64'])
  assert.deepEqual(decodeWheelTags('foo-1.0-cp39-abi3-win_amd64.whl'), {
    python: ['CPython 3.9'],
    abi: ['stable ABI (abi3)'],
    platform: ['Windows x86-64'],
  })
  assert.deepEqual(decodeWheelTags('foo-1.0-pp310-pypy310_pp73-win32.whl'), {
    python: ['PyPy 3.10'],
    abi: ['pypy310_pp73'],
    platform: ['Windows x86'],
  })
  assert.equal(decodeWheelTags('foo-1.0.tar.gz'), undefined)
  assert.equal(decodeWheelTags('foo-1.0-any.whl'), undefined)
})

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36'
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

await test('browser navigations are told from installers', () => {
  // A browser over http (only Upgrade-Insecure-Requests) and over https (Fetch Metadata too).
  assert.equal(
    isBrowserNavigation({ accept: BROWSER_ACCEPT, 'user-agent': CHROME, 'upgrade-insecure-requests': '1' }),
    true,
  )
  assert.equal(
    isBrowserNavigation({
      accept: BROWSER_ACCEPT,
      'user-agent': CHROME,
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    }),
    true,
  )
  // Installers: pip 23 (JSON first), old pip (text/html but no navigation header), easy_install, uv.
  assert.equal(
    isBrowserNavigation({
      accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01',
      'user-agent': 'pip/23.0.1 {}',
    }),
    false,
  )
  assert.equal(isBrowserNavigation({ accept: 'text/html', 'user-agent': 'pip/19.2.3 {}' }), false)
  assert.equal(isBrowserNavigation({ 'user-agent': 'setuptools/41.2.0 Python-urllib/2.7' }), false)
  // Even with a navigation header, an installer's user agent or a non-HTML Accept is not a browser.
  assert.equal(
    isBrowserNavigation({ accept: 'text/html', 'user-agent': 'pip/23.0.1', 'upgrade-insecure-requests': '1' }),
    false,
  )
  assert.equal(isBrowserNavigation({ accept: '*/*', 'user-agent': CHROME, 'upgrade-insecure-requests': '1' }), false)
  // A page's fetch() (micropip) is not a navigation.
  assert.equal(
    isBrowserNavigation({ accept: '*/*', 'user-agent': CHROME, 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }),
    false,
  )
  assert.equal(isBrowserNavigation({ accept: BROWSER_ACCEPT, 'user-agent': CHROME }), false)
})

const METADATA = [
  'Metadata-Version: 2.1',
  'Name: Demo.Pkg',
  'Version: 1.0',
  'Summary: A demo   package',
  '  over two lines',
  'Home-page: https://example.org/home',
  'Download-URL: javascript:alert(1)',
  'Author: Ada',
  'Author-email: ada@example.org',
  'License: MIT',
  'Project-URL: Docs, https://docs.example.org/',
  'Project-URL: Evil, javascript:alert(document.domain)',
  'Project-URL: Data, data:text/html,<script>alert(1)</script>',
  'Project-URL: Files, file:///etc/passwd',
  'Classifier: Programming Language :: Python :: 3',
  'Requires-Python: >=3.8',
  'Requires-Dist: requests (>=2)',
  'Requires-Dist: rich; extra == "cli"',
  'Provides-Extra: cli',
  'Description-Content-Type: text/markdown; charset=UTF-8; variant=GFM',
  '',
  '# Demo',
].join('\n')

await test('release details come from core metadata; only http(s) URLs become links', () => {
  const details = projectDetails(parseCoreMetadata(Buffer.from(METADATA)))
  assert.equal(details.name, 'Demo.Pkg')
  assert.equal(details.summary, 'A demo package over two lines')
  assert.equal(details.author, 'Ada <ada@example.org>')
  assert.equal(details.license, 'MIT')
  assert.equal(details.requiresPython, '>=3.8')
  assert.deepEqual(details.requiresDist, ['requests (>=2)', 'rich; extra == "cli"'])
  assert.deepEqual(details.providesExtra, ['cli'])
  assert.deepEqual(details.classifiers, ['Programming Language :: Python :: 3'])
  assert.deepEqual(details.links, [
    { label: 'Homepage', url: 'https://example.org/home' },
    { label: 'Docs', url: 'https://docs.example.org/' },
  ])
  assert.deepEqual(details.description, { text: '# Demo', format: 'markdown' })
})

await test('a Description field is unfolded; no content type means reStructuredText', () => {
  const details = projectDetails(
    parseCoreMetadata(
      Buffer.from(
        'Metadata-Version: 1.1\nName: x\nVersion: 1\nLicense: UNKNOWN\nDescription: Title\n        =====\n        \n        Body\n',
      ),
    ),
  )
  assert.deepEqual(details.description, { text: 'Title\n=====\n\nBody', format: 'rst' })
  assert.equal(details.license, undefined)
  assert.equal(descriptionFormat('text/plain'), 'text')
  assert.equal(descriptionFormat('TEXT/MARKDOWN'), 'markdown')
  assert.equal(descriptionFormat('text/x-rst'), 'rst')
  assert.equal(isWebUrl('jav\tascript:alert(1)'), false)
  assert.equal(isWebUrl('//example.org'), false)
})
