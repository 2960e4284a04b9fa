// The upstream configuration file (--config, EGGSERVE_CONFIG): what it sets per upstream, how
// flags and variables combine with it, and its messages (file, key, line; never a password).
// The files are real files in a temporary folder, read by resolveConfig's own reader.
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { resolveConfig, type RawFlags } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'
import { parseUpstreamFile } from '../../src/upstream/config-file.js'
import { resolveUpstreamConfig } from '../../src/upstream/upstream-settings.js'

const dir = await mkdtemp(join(tmpdir(), 'eggserve-config-file-'))
process.on('exit', () => {
  rmSync(dir, { recursive: true, force: true })
})
let files = 0

/** Write `text` as a configuration file; its path. */
async function configFile(text: string): Promise<string> {
  const path = join(dir, `eggserve-${String(++files)}.toml`)
  await writeFile(path, text)
  return path
}

type Env = Readonly<Record<string, string | undefined>>

function resolve(path: string, flags: RawFlags = {}, env: Env = {}): ReturnType<typeof resolveConfig> {
  return resolveConfig({ cacheDir: join(dir, 'cache'), config: path, ...flags }, env)
}

/** The ConfigError message resolving gives (fails when it does not throw one). */
function messageOf(path: string, env: Env = {}): string {
  try {
    resolve(path, {}, env)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    assert.equal(err.code, 'EGGSERVE_CONFIG')
    return err.message
  }
  assert.fail('the file was accepted')
}

const BASIC = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

const FULL = `# two upstreams, each with its own settings
never-upstream = ["acme-*", "corp_*"]
merge-upstream = ["Shared.Lib"]
min-release-age = "3d"

[[upstream]]
url = "https://mirror.example/simple"
ttl = "10m"
stale-max-age = "2d"
negative-ttl = 30
connect-timeout = "500ms"
timeout = "4s"
idle-timeout = "1m"
username = "deploy"
password-env = "MIRROR_PASSWORD"
max-redirects = 2
max-page-size = "8M"

[[upstream]]
url = "https://pypi.example/simple/"
ttl = 3600
offline = true
min-release-age = "7d"
min-release-age-undated = "keep"
`

await test('every key of the file takes effect on its own upstream, in order', async () => {
  const path = await configFile(FULL)
  const config = resolve(path, {}, { MIRROR_PASSWORD: 'hunter2' }).upstream
  assert.deepEqual(config.neverUpstream, ['acme-*', 'corp_*'])
  assert.deepEqual(config.merge, ['shared-lib'])
  assert.equal(config.offline, false)
  const [mirror, pypi] = config.upstreams
  assert.ok(mirror !== undefined && pypi !== undefined && config.upstreams.length === 2)
  assert.equal(mirror.url, 'https://mirror.example/simple/')
  assert.equal(mirror.authorization, BASIC('deploy', 'hunter2'))
  assert.equal(mirror.ttlMs, 600_000)
  assert.equal(mirror.staleMs, 2 * 86_400_000)
  assert.equal(mirror.negativeTtlMs, 30_000)
  assert.deepEqual(mirror.timeouts, { connectMs: 500, firstByteMs: 4_000, idleMs: 60_000 })
  assert.equal(mirror.maxRedirects, 2)
  assert.equal(mirror.maxPageBytes, 8 * 1024 ** 2)
  assert.equal(mirror.offline, false)
  // The top-level minimum release age, and the default for files without upload-time.
  assert.deepEqual(mirror.cooldown, { minAgeMs: 3 * 86_400_000, undated: 'hide' })
  assert.equal(pypi.url, 'https://pypi.example/simple/')
  assert.equal(pypi.authorization, undefined)
  assert.equal(pypi.ttlMs, 3_600_000)
  // Defaults where the table says nothing.
  assert.equal(pypi.staleMs, 7 * 86_400_000)
  assert.deepEqual(pypi.timeouts, { connectMs: 3_000, firstByteMs: 10_000, idleMs: 30_000 })
  assert.equal(pypi.maxRedirects, 5)
  assert.equal(pypi.offline, true)
  assert.deepEqual(pypi.cooldown, { minAgeMs: 7 * 86_400_000, undated: 'keep' })
})

await test('EGGSERVE_CONFIG names the file as --config does', async () => {
  const path = await configFile('[[upstream]]\nurl = "https://a.example/simple/"\n')
  const config = resolveConfig({ cacheDir: join(dir, 'cache') }, { EGGSERVE_CONFIG: path })
  assert.deepEqual(
    config.upstream.upstreams.map((upstream) => upstream.url),
    ['https://a.example/simple/'],
  )
})

await test('flags and variables win over the file, setting by setting', async () => {
  const path = await configFile(FULL)
  const env = { MIRROR_PASSWORD: 'hunter2' }
  // A TTL, timeout or minimum release age given so applies to every upstream.
  const timed = resolve(path, { upstreamTtl: '5', minReleaseAge: '1h' }, { ...env, EGGSERVE_UPSTREAM_TIMEOUT: '2' })
  for (const upstream of timed.upstream.upstreams) {
    assert.equal(upstream.ttlMs, 5_000)
    assert.equal(upstream.timeouts.firstByteMs, 2_000)
    assert.equal(upstream.cooldown.minAgeMs, 3_600_000)
  }
  // What the flags do not say still comes from the file.
  assert.equal(timed.upstream.upstreams[0]?.staleMs, 2 * 86_400_000)
  assert.equal(timed.upstream.upstreams[0].timeouts.connectMs, 500)
  assert.equal(timed.upstream.upstreams[1]?.cooldown.undated, 'keep')
  // --upstream replaces the file's list; the file's lists give way to flags too.
  const replaced = resolve(path, { upstream: ['https://other.example/simple/'], neverUpstream: ['x-*'] }, env)
  assert.deepEqual(
    replaced.upstream.upstreams.map((upstream) => [upstream.url, upstream.ttlMs, upstream.offline]),
    [['https://other.example/simple/', 600_000, false]],
  )
  assert.deepEqual(replaced.upstream.neverUpstream, ['x-*'])
  assert.deepEqual(replaced.upstream.merge, ['shared-lib'], 'the file still gives what no flag does')
  assert.equal(replaced.upstream.upstreams[0]?.cooldown.minAgeMs, 3 * 86_400_000, "the file's top-level age")
  // --offline makes every upstream offline; an upstream's own offline stays when it is not given.
  assert.deepEqual(
    resolve(path, { offline: true }, env).upstream.upstreams.map((upstream) => upstream.offline),
    [true, true],
  )
  assert.deepEqual(
    resolve(path, {}, { ...env, EGGSERVE_OFFLINE: 'false' }).upstream.upstreams.map((upstream) => upstream.offline),
    [false, true],
  )
  const allOffline = await configFile('offline = true\n[[upstream]]\nurl = "https://a.example/simple/"\n')
  assert.equal(resolve(allOffline).upstream.upstreams[0]?.offline, true)
  assert.equal(resolve(allOffline, {}, { EGGSERVE_OFFLINE: 'no' }).upstream.upstreams[0]?.offline, false)
})

await test('credentials: in the URL, or username with password-env or password-file', async () => {
  const secretFile = join(dir, 'mirror.password')
  await writeFile(secretFile, 's3cret\n')
  // A relative password-file is found beside the configuration file.
  const path = await configFile(
    '[[upstream]]\nurl = "https://u:p%40ss@a.example/simple/"\n' +
      '[[upstream]]\nurl = "https://b.example/simple/"\nusername = "ci"\npassword-file = "mirror.password"\n',
  )
  const [a, b] = resolve(path).upstream.upstreams
  assert.equal(a?.authorization, BASIC('u', 'p@ss'))
  assert.equal(a.url, 'https://a.example/simple/')
  assert.equal(b?.authorization, BASIC('ci', 's3cret'))
  const credential = await configFile(
    '[[upstream]]\nurl = "https://b.example/simple/"\nusername = "ci"\npassword-file = "credential:mirror.password"\n',
  )
  assert.equal(
    resolve(credential, {}, { CREDENTIALS_DIRECTORY: dir }).upstream.upstreams[0]?.authorization,
    BASIC('ci', 's3cret'),
  )
})

await test('bad files: one clear message naming the file, the key and its line, never a password', async () => {
  const cases: { text: string; env?: Env; expect: RegExp }[] = [
    { text: 'ttl = "10m"\n', expect: /key "ttl" \(line 1\): unknown key/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nnever-upstream = ["acme-*"]\n',
      expect: /#1, key "never-upstream" \(line 3\): belongs at the top of the file, before the first \[\[upstream\]\]/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/simple/"\npassword = "hunter2"\n',
      expect: /\[\[upstream\]\] #1, key "password" \(line 3\): unknown key/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\n\n[[upstream]]\nurl = "https://b.example/"\nttl = "10 minutes"\n',
      expect: /\[\[upstream\]\] #2, key "ttl" \(line 6\): "10 minutes" is not a duration/,
    },
    { text: '[[upstream]]\nurl = "https://a.example/"\nttl = true\n', expect: /key "ttl" \(line 3\)/ },
    { text: '[[upstream]]\nurl = "https://a.example/"\noffline = "yes"\n', expect: /key "offline".*true or false/ },
    { text: '[[upstream]]\nurl = "https://a.example/"\nmax-redirects = 99\n', expect: /0 to 20/ },
    { text: '[[upstream]]\nurl = "https://a.example/"\ntimeout = 0\n', expect: /key "timeout"/ },
    { text: '[[upstream]]\nurl = "https://a.example/"\nmax-page-size = "lots"\n', expect: /max-page-size/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nmin-release-age-undated = "drop"\n',
      expect: /"hide" or "keep"/,
    },
    {
      text: '[[upstream]]\nurl = "ftp://user:hunter2@a.example/simple/"\n',
      expect: /key "url" \(line 2\): .*http or https/,
    },
    { text: '[[upstream]]\nurl = "https://a.example/?x=hunter2"\n', expect: /query or fragment/ },
    { text: '[[upstream]]\nttl = 5\n', expect: /key "url".*missing/ },
    { text: '[upstream]\nurl = "https://a.example/"\n', expect: /key "upstream".*\[\[upstream\]\] tables/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\n[[upstream]]\nurl = "https://a.example"\n',
      expect: /#2, key "url" \(line 4\): https:\/\/a.example\/ is listed twice/,
    },
    { text: 'never-upstream = "acme-*"\n', expect: /never-upstream.*list of strings/ },
    { text: 'never-upstream = ["acme-["]\n', expect: /never-upstream/ },
    { text: 'merge-upstream = ["-bad-"]\n', expect: /merge-upstream.*not a project name/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nusername = "ci"\npassword-env = "NO_SUCH_VARIABLE"\n',
      expect: /key "password-env" \(line 4\): the environment variable NO_SUCH_VARIABLE is not set/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\npassword-env = "MIRROR_PASSWORD"\n',
      env: { MIRROR_PASSWORD: 'hunter2' },
      expect: /password-env.*needs a username/,
    },
    {
      text: '[[upstream]]\nurl = "https://u:hunter2@a.example/"\nusername = "ci"\npassword-env = "MIRROR_PASSWORD"\n',
      env: { MIRROR_PASSWORD: 'hunter2' },
      expect: /credentials in it already/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nusername = "ci"\npassword-file = "missing.password"\n',
      expect: /key "password-file" \(line 4\): cannot read ".*missing\.password": no such file/,
    },
    // A syntax error: the parser's position, without the line it would quote.
    { text: '[[upstream]]\nurl = "https://u:hunter2@a.example/\n', expect: /\(line 2, column \d+\)$/ },
    { text: '[[upstream]]\nurl = "https://a.example/"\nurl = "https://b.example/"\n', expect: /line 3/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nbreaker-failures = 0\n',
      expect: /key "breaker-failures" \(line 3\): expected an integer from 1 to 1000/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nbreaker-failures = "5"\n',
      expect: /key "breaker-failures" \(line 3\)/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nbreaker-open-for = "forever"\n',
      expect: /key "breaker-open-for" \(line 3\): "forever" is not a duration above 0 up to 1 day:/,
    },
    { text: '[[upstream]]\nurl = "https://a.example/"\nbreaker-open-for = "2d"\n', expect: /key "breaker-open-for"/ },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\ndirect-downloads = "yes"\n',
      expect: /key "direct-downloads".*true or false/,
    },
    {
      text: '[[upstream]]\nurl = "https://ci:hunter2@a.example/"\n\ndirect-downloads = true\n',
      expect: /#1, key "direct-downloads" \(line 4\): cannot be true for an upstream with credentials/,
    },
    {
      text: '[[upstream]]\nurl = "https://a.example/"\nusername = "ci"\npassword-env = "MIRROR_PASSWORD"\ndirect-downloads = true\n',
      env: { MIRROR_PASSWORD: 'hunter2' },
      expect: /key "direct-downloads" \(line 5\): cannot be true for an upstream with credentials/,
    },
  ]
  for (const { text, env, expect } of cases) {
    const path = await configFile(text)
    const message = messageOf(path, env)
    assert.match(message, expect, text)
    assert.ok(message.startsWith(`Invalid configuration file "${path}": `), message)
    assert.ok(!message.includes('hunter2'), `no password in: ${message}`)
    assert.ok(!message.includes('\n'), `one line: ${message}`)
  }
  assert.match(
    messageOf(join(dir, 'absent.toml')),
    /^Cannot read the configuration file ".*absent\.toml" \(--config\): no such file$/,
  )
  assert.match(messageOf(dir), /it is a directory$/)
})

await test('upstreams from the file need a cache directory too', async () => {
  const path = await configFile('[[upstream]]\nurl = "https://a.example/simple/"\n')
  assert.throws(
    () => resolveConfig({ config: path, cacheDir: 'none' }, {}),
    (err: unknown) =>
      err instanceof ConfigError && err.message.includes(`[[upstream]] in "${path}" needs a cache directory`),
  )
  // A file with no upstreams (only lists) needs none.
  const lists = await configFile('never-upstream = ["acme-*"]\n')
  assert.deepEqual(resolveConfig({ config: lists, cacheDir: 'none' }, {}).upstream.neverUpstream, ['acme-*'])
})

await test('--min-release-age and EGGSERVE_MIN_RELEASE_AGE without a file: every upstream, flag first', () => {
  const base: RawFlags = { cacheDir: join(dir, 'cache'), upstream: ['https://a.example/simple/', 'https://b.example/'] }
  const ages = (flags: RawFlags, env: Env): number[] =>
    resolveConfig({ ...base, ...flags }, env).upstream.upstreams.map((upstream) => upstream.cooldown.minAgeMs)
  assert.deepEqual(ages({}, {}), [0, 0], 'off by default')
  assert.deepEqual(ages({}, { EGGSERVE_MIN_RELEASE_AGE: '36h' }), [129_600_000, 129_600_000])
  assert.deepEqual(ages({ minReleaseAge: '600' }, { EGGSERVE_MIN_RELEASE_AGE: 'nonsense' }), [600_000, 600_000])
  for (const [flags, env, source] of [
    [{ minReleaseAge: '7 days' }, {}, '--min-release-age'],
    [{}, { EGGSERVE_MIN_RELEASE_AGE: '-1d' }, 'EGGSERVE_MIN_RELEASE_AGE'],
    [{ minReleaseAge: '400d' }, {}, '--min-release-age'],
  ] as const) {
    assert.throws(
      () => ages(flags, env),
      (err: unknown) => err instanceof ConfigError && err.message.includes(source) && err.message.includes('"'),
    )
  }
})

await test('the example in docs/upstream.md is a valid file and means what its comments say', async () => {
  const docs = await readFile(new URL('../../docs/upstream.md', import.meta.url), 'utf8')
  const example = /```toml\n([\s\S]*?)```/.exec(docs)?.[1]
  assert.ok(example !== undefined, 'docs/upstream.md has a TOML example')
  const secrets: string[] = []
  const file = parseUpstreamFile(example, 'eggserve.toml', {
    env: {},
    readSecret: (path) => {
      secrets.push(path)
      return 'from-the-file\n'
    },
  })
  assert.deepEqual(secrets, ['mirror.password'])
  const config = resolveUpstreamConfig({}, {}, file)
  assert.deepEqual(config.neverUpstream, ['acme-*', 'internal-*'])
  const [mirror, pypi, archive] = config.upstreams
  assert.ok(mirror !== undefined && pypi !== undefined && archive !== undefined)
  assert.equal(mirror.authorization, BASIC('eggserve', 'from-the-file'))
  assert.equal(mirror.ttlMs, 120_000)
  assert.deepEqual(mirror.timeouts, { connectMs: 1_000, firstByteMs: 5_000, idleMs: 20_000 })
  assert.deepEqual(
    config.upstreams.map((upstream) => [upstream.cooldown.minAgeMs / 86_400_000, upstream.offline]),
    [
      [0, false],
      [7, false],
      [3, true],
    ],
  )
  assert.deepEqual(
    config.upstreams.map((upstream) => [upstream.breaker, upstream.directDownloads]),
    [
      [{ failures: 3, openMs: 30_000 }, false],
      [{ failures: 5, openMs: 60_000 }, true],
      [{ failures: 5, openMs: 60_000 }, false],
    ],
  )
})

await test("each upstream's circuit breaker from its table; the flags and variables over every table", async () => {
  const path = await configFile(
    '[[upstream]]\nurl = "https://a.example/simple/"\nbreaker-failures = 2\nbreaker-open-for = "90s"\n' +
      '[[upstream]]\nurl = "https://b.example/simple/"\nbreaker-open-for = 5\n' +
      '[[upstream]]\nurl = "https://c.example/simple/"\n',
  )
  const breakers = (flags: RawFlags = {}, env: Env = {}): unknown =>
    resolve(path, flags, env).upstream.upstreams.map((upstream) => upstream.breaker)
  assert.deepEqual(breakers(), [
    { failures: 2, openMs: 90_000 },
    { failures: 5, openMs: 5_000 },
    { failures: 5, openMs: 60_000 },
  ])
  const all = { failures: 9, openMs: 1_500 }
  assert.deepEqual(breakers({ upstreamBreakerFailures: '9', upstreamBreakerOpenFor: '1500ms' }), [all, all, all])
  assert.deepEqual(
    breakers({}, { EGGSERVE_UPSTREAM_BREAKER_FAILURES: '9', EGGSERVE_UPSTREAM_BREAKER_OPEN_FOR: '1.5' }),
    [all, all, all],
  )
  assert.deepEqual(
    breakers({ upstreamBreakerFailures: '9' }, { EGGSERVE_UPSTREAM_BREAKER_FAILURES: '1' }),
    [
      { failures: 9, openMs: 90_000 },
      { failures: 9, openMs: 5_000 },
      { failures: 9, openMs: 60_000 },
    ],
    'the flag wins over its variable; what no flag gives comes from the table',
  )
  for (const [flags, env, expect] of [
    [{ upstreamBreakerFailures: '0' }, {}, /"0" \(--upstream-breaker-failures\): expected an integer from 1 to 1000/],
    [{}, { EGGSERVE_UPSTREAM_BREAKER_FAILURES: 'many' }, /"many" \(EGGSERVE_UPSTREAM_BREAKER_FAILURES\)/],
    [{ upstreamBreakerOpenFor: '2d' }, {}, /"2d" \(--upstream-breaker-open-for\): .*up to 1 day/],
    [{}, { EGGSERVE_UPSTREAM_BREAKER_OPEN_FOR: '0' }, /"0" \(EGGSERVE_UPSTREAM_BREAKER_OPEN_FOR\)/],
  ] as const)
    assert.throws(
      () => resolve(path, flags, env),
      (err: unknown) => err instanceof ConfigError && expect.test(err.message),
      JSON.stringify([flags, env]),
    )
})

await test('direct downloads: the flag is the default, a table says otherwise; never with credentials', async () => {
  const path = await configFile(
    '[[upstream]]\nurl = "https://a.example/simple/"\n' +
      '[[upstream]]\nurl = "https://b.example/simple/"\ndirect-downloads = true\n' +
      '[[upstream]]\nurl = "https://c:hunter2@c.example/simple/"\ndirect-downloads = false\n',
  )
  const direct = (flags: RawFlags = {}, env: Env = {}): boolean[] =>
    resolve(path, flags, env).upstream.upstreams.map((upstream) => upstream.directDownloads)
  assert.deepEqual(direct(), [false, true, false])
  // The upstream with credentials stays proxied: its table says so.
  assert.deepEqual(direct({ upstreamDirectDownloads: true }), [true, true, false])
  assert.deepEqual(direct({}, { EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS: 'yes' }), [true, true, false])
  assert.deepEqual(direct({}, { EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS: 'false' }), [false, true, false])
  // An upstream with credentials whose table says nothing: the flag cannot apply to it.
  const silent = await configFile('[[upstream]]\nurl = "https://c:hunter2@c.example/simple/"\n')
  const refusals: [string, RawFlags, Env][] = [
    [silent, { upstreamDirectDownloads: true }, {}],
    [silent, {}, { EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS: 'true' }],
    [silent, { upstream: ['https://u:hunter2@d.example/simple/'], upstreamDirectDownloads: true }, {}],
  ]
  for (const [file, flags, env] of refusals)
    assert.throws(
      () => resolve(file, flags, env),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(
          '--upstream-direct-downloads (EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS) cannot be used with an upstream that has credentials',
        ) &&
        !err.message.includes('hunter2'),
      JSON.stringify(flags),
    )
  assert.throws(
    () => resolve(silent, {}, { EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS: 'sometimes' }),
    /Invalid boolean "sometimes" \(EGGSERVE_UPSTREAM_DIRECT_DOWNLOADS\)/,
  )
})
