// --download-redirect: the windows presigned URLs are signed in, base URLs, and the settings'
// validation (resolveConfig).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveConfig, type RawFlags } from '../../src/config.js'
import {
  baseLocation,
  parseRedirectBase,
  signingWindow,
  windowRemainingSeconds,
} from '../../src/core/download-redirect.js'
import { ConfigError } from '../../src/errors.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 11, 6, 9, 0, 0)

await test('every instant of a window signs at the window start, valid for two windows', () => {
  for (const now of [T0, T0 + 1, T0 + HOUR / 2, T0 + HOUR - 1]) {
    const window = signingWindow(now, HOUR)
    assert.equal(window.signingDate.getTime(), T0, String(now))
    assert.equal(window.expiresInSeconds, 7200)
  }
  assert.equal(signingWindow(T0 + HOUR, HOUR).signingDate.getTime(), T0 + HOUR)
  assert.equal(signingWindow(T0 - 1, HOUR).signingDate.getTime(), T0 - HOUR)
})

await test('a redirect may be cached until its window ends', () => {
  assert.equal(windowRemainingSeconds(T0, HOUR), 3600)
  assert.equal(windowRemainingSeconds(T0 + 1_500, HOUR), 3598)
  assert.equal(windowRemainingSeconds(T0 + HOUR - 1, HOUR), 0)
})

await test('a base location percent-encodes each segment of the key', () => {
  assert.equal(
    baseLocation('https://cdn.example.com/eggs/', 'Demo.Pkg/demo_pkg-1.0+local-py3-none-any.whl'),
    'https://cdn.example.com/eggs/Demo.Pkg/demo_pkg-1.0%2Blocal-py3-none-any.whl',
  )
  assert.equal(baseLocation('http://h/', 'a b/c#d?.tar.gz'), 'http://h/a%20b/c%23d%3F.tar.gz')
})

await test('base URLs: http(s), no credentials, query or fragment; a trailing slash is added', () => {
  assert.equal(parseRedirectBase('https://cdn.example.com/eggs'), 'https://cdn.example.com/eggs/')
  assert.equal(parseRedirectBase('http://127.0.0.1:9000/bucket/prefix/'), 'http://127.0.0.1:9000/bucket/prefix/')
  for (const bad of [
    'ftp://cdn.example.com/',
    'https://user:secret@cdn.example.com/',
    'https://cdn.example.com/?a=1',
    'https://cdn.example.com/#x',
    'https://cdn.example.com/?',
    'cdn.example.com/eggs',
    'presign',
    '',
  ])
    assert.equal(parseRedirectBase(bad), undefined, bad)
})

function configError(flags: RawFlags, env: Readonly<Record<string, string>> = {}): string {
  try {
    resolveConfig(flags, env)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err.message
  }
  assert.fail('expected a ConfigError')
}

await test('resolveConfig: --download-redirect and --presign-window', async (t) => {
  await t.test('presigned with a bucket; the window defaults to an hour', () => {
    assert.deepEqual(resolveConfig({ storage: 's3://eggs/team', downloadRedirect: 'presigned' }, {}).downloadRedirect, {
      kind: 'presigned',
      windowMs: HOUR,
    })
    assert.deepEqual(
      resolveConfig(
        {},
        { EGGSERVE_STORAGE: 's3://eggs', EGGSERVE_DOWNLOAD_REDIRECT: 'presigned', EGGSERVE_PRESIGN_WINDOW: '600' },
      ).downloadRedirect,
      { kind: 'presigned', windowMs: 600_000 },
    )
  })
  await t.test('a base URL, with a folder or a bucket', () => {
    assert.deepEqual(resolveConfig({ downloadRedirect: 'https://cdn.example.com/eggs' }, {}).downloadRedirect, {
      kind: 'base',
      base: 'https://cdn.example.com/eggs/',
    })
  })
  await t.test('mistakes are ConfigErrors that say what to do', () => {
    assert.match(configError({ downloadRedirect: 'presigned' }), /presigned needs --storage s3:\/\//)
    assert.match(
      configError({ downloadRedirect: 'https://cdn/', xAccelRedirect: '/_eggfiles' }),
      /--download-redirect and --x-accel-redirect cannot be used together/,
    )
    assert.match(
      configError({ storage: 's3://eggs', downloadRedirect: 'presigned', presignWindow: '59' }),
      /Invalid --presign-window "59": at least 60 seconds/,
    )
    assert.match(
      configError({ storage: 's3://eggs', downloadRedirect: 'presigned', presignWindow: '302401' }),
      /expected a number from 0 to 302400/,
    )
    const withPassword = configError({ downloadRedirect: 'https://user:hunter2@cdn.example.com/' })
    assert.match(withPassword, /without credentials/)
    assert.match(configError({ downloadRedirect: 'sometimes' }), /expected presigned, or an http\(s\) base URL/)
  })
})
