// resolveConfig: defaults < EGGSERVE_* environment < flags, validated and frozen.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parsePort, resolveConfig, type Config, type RawFlags } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'

type Env = Readonly<Record<string, string | undefined>>

const DEFAULTS: Config = {
  eggdir: '.',
  port: 31001,
  host: '0.0.0.0',
  logFile: undefined,
  logLevel: 'info',
  hashAlgorithm: 'md5',
  simpleHashAlgorithm: 'sha256',
  lenient: false,
  shutdownTimeoutMs: 10_000,
  cacheControl: 'max-age=0, must-revalidate',
  cacheDir: undefined,
  hashWorkers: 'auto',
  workers: 1,
  reconcileIntervalMs: 120_000,
  passwordFile: undefined,
  authenticate: ['update'],
  uploads: 'disabled',
  overwrite: false,
  maxUploadBytes: 1024 ** 3,
  authFailureLimit: 10,
  storage: undefined,
  s3PathStyle: false,
  s3Writers: 'many',
  s3DownloadCache: undefined,
  ui: true,
  uiRemoteImages: false,
  publicUrl: undefined,
  trustProxy: [],
  xAccelRedirect: undefined,
  downloadRedirect: undefined,
  metrics: { enabled: false },
  upstream: {
    upstreams: [],
    neverUpstream: [],
    merge: [],
    offline: false,
    cacheMaxBytes: undefined,
    hashChange: 'pin',
  },
  tls: undefined,
}

const FULL_ENV: Env = {
  EGGSERVE_EGGDIR: '/srv/eggs',
  EGGSERVE_PORT: '8080',
  EGGSERVE_HOST: '127.0.0.1',
  EGGSERVE_LOG: '/var/log/eggserve.log',
  EGGSERVE_LOG_LEVEL: 'debug',
  EGGSERVE_HASH_ALGO: 'sha256',
  EGGSERVE_LENIENT: 'true',
  EGGSERVE_SHUTDOWN_TIMEOUT: '30',
  EGGSERVE_CACHE_CONTROL: 'max-age=600',
  EGGSERVE_CACHE_DIR: '/var/cache/eggs',
  EGGSERVE_HASH_WORKERS: '3',
  EGGSERVE_WORKERS: 'auto',
  EGGSERVE_RECONCILE_INTERVAL: '30',
  EGGSERVE_PASSWORDS: '/etc/eggserve/htpasswd',
  EGGSERVE_AUTHENTICATE: 'update,download',
  EGGSERVE_OVERWRITE: 'true',
  EGGSERVE_MAX_UPLOAD_SIZE: '100M',
  EGGSERVE_AUTH_FAILURE_LIMIT: '3',
  EGGSERVE_UI: 'off',
  EGGSERVE_UI_REMOTE_IMAGES: 'true',
  EGGSERVE_METRICS_LISTEN: '127.0.0.1:9464',
}

/** Asserts that resolving throws a ConfigError whose message names `source` and quotes `value`. */
function assertConfigError(flags: RawFlags, env: Env, source: string, value: string): void {
  assert.throws(
    () => resolveConfig(flags, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
      assert.equal(err.code, 'EGGSERVE_CONFIG')
      assert.ok(err.message.includes(source), `message should name ${source}: ${err.message}`)
      assert.ok(
        err.message.includes(`"${value}"`),
        `message should quote the value ${JSON.stringify(value)}: ${err.message}`,
      )
      return true
    },
  )
}

await describe('resolveConfig: sources and precedence', async () => {
  await test('defaults when neither flags nor environment say anything', () => {
    assert.deepEqual(resolveConfig({}, {}), DEFAULTS)
  })

  await test('ignores unrelated environment variables', () => {
    assert.deepEqual(resolveConfig({}, { PORT: '1', HOST: 'example', EGGSERVE: 'x', eggserve_port: '2' }), DEFAULTS)
  })

  await test('environment overrides defaults', () => {
    assert.deepEqual(resolveConfig({}, FULL_ENV), {
      eggdir: '/srv/eggs',
      port: 8080,
      host: '127.0.0.1',
      logFile: '/var/log/eggserve.log',
      logLevel: 'debug',
      hashAlgorithm: 'sha256',
      simpleHashAlgorithm: 'sha256',
      lenient: true,
      shutdownTimeoutMs: 30_000,
      cacheControl: 'max-age=600',
      cacheDir: '/var/cache/eggs',
      hashWorkers: 3,
      workers: 'auto',
      reconcileIntervalMs: 30_000,
      passwordFile: '/etc/eggserve/htpasswd',
      authenticate: ['update', 'download'],
      uploads: 'authenticated',
      overwrite: true,
      maxUploadBytes: 100 * 1024 ** 2,
      authFailureLimit: 3,
      storage: undefined,
      s3PathStyle: false,
      s3Writers: 'many',
      s3DownloadCache: undefined,
      ui: false,
      uiRemoteImages: true,
      publicUrl: undefined,
      trustProxy: [],
      xAccelRedirect: undefined,
      downloadRedirect: undefined,
      metrics: { enabled: true, listen: { host: '127.0.0.1', port: 9464 } },
      upstream: {
        upstreams: [],
        neverUpstream: [],
        merge: [],
        offline: false,
        cacheMaxBytes: undefined,
        hashChange: 'pin',
      },
      tls: undefined,
    })
  })

  await test('an empty environment variable counts as unset', () => {
    const empty = Object.fromEntries(Object.keys(FULL_ENV).map((name) => [name, '']))
    assert.deepEqual(resolveConfig({}, empty), DEFAULTS)
  })

  await test('flags override the environment', () => {
    const flags: RawFlags = {
      eggdir: './pkgs',
      port: '9000',
      host: '::1',
      log: 'eggserve.log',
      logLevel: 'warn',
      hashAlgo: 'sha512',
      lenient: false,
      shutdownTimeout: '5',
      cacheControl: 'no-cache',
      cacheDir: 'none',
      hashWorkers: '0',
      workers: '2',
      reconcileInterval: '0',
      passwords: 'users.htpasswd',
      authenticate: 'list, Update,download',
      overwrite: true,
      maxUploadSize: '2G',
      authFailureLimit: '0',
      ui: 'on',
      uiRemoteImages: false,
      metricsListen: '[::1]:9100',
    }
    assert.deepEqual(resolveConfig(flags, FULL_ENV), {
      eggdir: './pkgs',
      port: 9000,
      host: '::1',
      logFile: 'eggserve.log',
      logLevel: 'warn',
      hashAlgorithm: 'sha512',
      simpleHashAlgorithm: 'sha512',
      lenient: false,
      shutdownTimeoutMs: 5_000,
      cacheControl: 'no-cache',
      cacheDir: undefined,
      hashWorkers: 0,
      workers: 2,
      reconcileIntervalMs: 0,
      passwordFile: 'users.htpasswd',
      authenticate: ['list', 'update', 'download'],
      uploads: 'authenticated',
      overwrite: true,
      maxUploadBytes: 2 * 1024 ** 3,
      authFailureLimit: 0,
      storage: undefined,
      s3PathStyle: false,
      s3Writers: 'many',
      s3DownloadCache: undefined,
      ui: true,
      uiRemoteImages: false,
      publicUrl: undefined,
      trustProxy: [],
      xAccelRedirect: undefined,
      downloadRedirect: undefined,
      metrics: { enabled: true, listen: { host: '::1', port: 9100 } },
      upstream: {
        upstreams: [],
        neverUpstream: [],
        merge: [],
        offline: false,
        cacheMaxBytes: undefined,
        hashChange: 'pin',
      },
      tls: undefined,
    })
  })

  await test('each setting is taken from its own source', () => {
    const config = resolveConfig({ port: '1234' }, { EGGSERVE_HOST: '10.0.0.1' })
    assert.deepEqual(config, { ...DEFAULTS, port: 1234, host: '10.0.0.1' })
  })

  await test('an invalid environment value does not matter when a flag overrides it', () => {
    const config = resolveConfig({ port: '80', hashAlgo: 'md5' }, { EGGSERVE_PORT: 'abc', EGGSERVE_HASH_ALGO: 'sha1' })
    assert.equal(config.port, 80)
    assert.equal(config.hashAlgorithm, 'md5')
  })

  await test('--ui takes on/off (and the other boolean spellings); anything else is refused', () => {
    assert.equal(resolveConfig({ ui: 'off' }, {}).ui, false)
    assert.equal(resolveConfig({}, { EGGSERVE_UI: 'no' }).ui, false)
    assert.equal(resolveConfig({ ui: 'on' }, { EGGSERVE_UI: 'off' }).ui, true)
    assertConfigError({ ui: 'maybe' }, {}, '--ui', 'maybe')
    assertConfigError({}, { EGGSERVE_UI_REMOTE_IMAGES: 'sometimes' }, 'EGGSERVE_UI_REMOTE_IMAGES', 'sometimes')
  })

  await test('returns a frozen object', () => {
    for (const config of [resolveConfig({}, {}), resolveConfig({ port: '1' }, FULL_ENV)]) {
      assert.equal(Object.isFrozen(config), true)
      assert.equal(Reflect.set(config, 'port', 1), false)
      assert.throws(() => {
        Object.assign(config, { port: 2 })
      }, TypeError)
      assert.notEqual(config.port, 2)
    }
  })

  await test('returns a new object on every call', () => {
    assert.notEqual(resolveConfig({}, {}), resolveConfig({}, {}))
  })
})

await describe('resolveConfig: port', async () => {
  const valid: readonly (readonly [string, number])[] = [
    ['0', 0],
    ['1', 1],
    ['80', 80],
    ['31001', 31001],
    ['65535', 65535],
  ]
  for (const [value, expected] of valid) {
    await test(`port ${JSON.stringify(value)} → ${expected}`, () => {
      assert.equal(resolveConfig({ port: value }, {}).port, expected)
      assert.equal(resolveConfig({}, { EGGSERVE_PORT: value }).port, expected)
      assert.equal(parsePort(value), expected)
    })
  }

  const invalid = [
    'abc',
    '-1',
    '65536',
    '1.5',
    '',
    ' 80',
    '80 ',
    '+80',
    '0x50',
    '1e3',
    '99999999999999999999',
    'NaN',
    'Infinity',
  ]
  for (const value of invalid) {
    await test(`port ${JSON.stringify(value)} is rejected naming --port`, () => {
      assertConfigError({ port: value }, {}, '--port', value)
    })
    if (value !== '') {
      await test(`port ${JSON.stringify(value)} is rejected naming EGGSERVE_PORT`, () => {
        assertConfigError({}, { EGGSERVE_PORT: value }, 'EGGSERVE_PORT', value)
      })
    }
  }

  await test('parsePort names the given source, --port by default', () => {
    assert.throws(() => parsePort('x'), /--port/)
    assert.throws(() => parsePort('x', 'PORT_FROM_ELSEWHERE'), /PORT_FROM_ELSEWHERE/)
  })
})

await describe('resolveConfig: hash algorithm', async () => {
  for (const value of ['md5', 'sha256', 'sha384', 'sha512'] as const) {
    await test(`${value} is accepted`, () => {
      assert.equal(resolveConfig({ hashAlgo: value }, {}).hashAlgorithm, value)
      assert.equal(resolveConfig({}, { EGGSERVE_HASH_ALGO: value }).hashAlgorithm, value)
    })
  }
  // uv fails a whole page on these names (uv's Hashes::parse_fragment; docs/http.md, "Pages"), and
  // blake2b_256 is no hashlib name either.
  for (const value of ['sha1', 'sha224', 'blake2b_256', 'blake2b', 'SHA256', 'sha-256', 'md4', '']) {
    await test(`${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ hashAlgo: value }, {}, '--hash-algo', value)
      if (value !== '') assertConfigError({}, { EGGSERVE_HASH_ALGO: value }, 'EGGSERVE_HASH_ALGO', value)
    })
  }
  await test('the message lists the accepted algorithms', () => {
    assert.throws(() => resolveConfig({ hashAlgo: 'sha1' }, {}), /md5, sha256, sha384, sha512/)
  })
})

await describe('resolveConfig: the anchor algorithm of each tree', async () => {
  const cases: readonly { name: string; flags: RawFlags; env: Env; original: string; simple: string }[] = [
    {
      name: 'defaults: md5 on the original tree, sha256 on /simple/',
      flags: {},
      env: {},
      original: 'md5',
      simple: 'sha256',
    },
    { name: '--hash-algo sets both', flags: { hashAlgo: 'sha512' }, env: {}, original: 'sha512', simple: 'sha512' },
    {
      name: '--hash-algo md5 sets both, explicitly',
      flags: { hashAlgo: 'md5' },
      env: {},
      original: 'md5',
      simple: 'md5',
    },
    {
      name: 'EGGSERVE_HASH_ALGO sets both',
      flags: {},
      env: { EGGSERVE_HASH_ALGO: 'sha384' },
      original: 'sha384',
      simple: 'sha384',
    },
    {
      name: '--simple-hash-algo sets /simple/ only',
      flags: { simpleHashAlgo: 'md5' },
      env: {},
      original: 'md5',
      simple: 'md5',
    },
    {
      name: '--simple-hash-algo wins over --hash-algo for /simple/',
      flags: { hashAlgo: 'sha512', simpleHashAlgo: 'sha256' },
      env: {},
      original: 'sha512',
      simple: 'sha256',
    },
    {
      name: 'EGGSERVE_SIMPLE_HASH_ALGO wins over --hash-algo for /simple/ (the narrower setting)',
      flags: { hashAlgo: 'md5' },
      env: { EGGSERVE_SIMPLE_HASH_ALGO: 'sha384' },
      original: 'md5',
      simple: 'sha384',
    },
    {
      name: '--simple-hash-algo wins over EGGSERVE_SIMPLE_HASH_ALGO',
      flags: { simpleHashAlgo: 'sha512' },
      env: { EGGSERVE_SIMPLE_HASH_ALGO: 'sha384' },
      original: 'md5',
      simple: 'sha512',
    },
  ]
  for (const { name, flags, env, original, simple } of cases) {
    await test(name, () => {
      const config = resolveConfig(flags, env)
      assert.equal(config.hashAlgorithm, original)
      assert.equal(config.simpleHashAlgorithm, simple)
    })
  }
  await test('a bad --simple-hash-algo is named', () => {
    assertConfigError({ simpleHashAlgo: 'sha1' }, {}, '--simple-hash-algo', 'sha1')
    assertConfigError({}, { EGGSERVE_SIMPLE_HASH_ALGO: 'sha1' }, 'EGGSERVE_SIMPLE_HASH_ALGO', 'sha1')
  })
})

await describe('resolveConfig: lenient', async () => {
  const cases: readonly (readonly [string, boolean])[] = [
    ['0', false],
    ['false', false],
    ['FALSE', false],
    ['1', true],
    ['true', true],
    ['True', true],
    ['yes', true],
    ['ON', true],
    ['no', false],
    ['off', false],
  ]
  for (const [value, expected] of cases) {
    await test(`EGGSERVE_LENIENT=${value} → ${String(expected)}`, () => {
      assert.equal(resolveConfig({}, { EGGSERVE_LENIENT: value }).lenient, expected)
    })
  }
  for (const value of ['2', 'maybe', 'tru', '-1', 'truefalse', ' 1']) {
    await test(`EGGSERVE_LENIENT=${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({}, { EGGSERVE_LENIENT: value }, 'EGGSERVE_LENIENT', value)
    })
  }
  await test('the message lists every accepted spelling', () => {
    assert.throws(
      () => resolveConfig({}, { EGGSERVE_LENIENT: 'maybe' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(
          err.message,
          'Invalid boolean "maybe" (EGGSERVE_LENIENT): expected true/yes/on/1 or false/no/off/0 (any case)',
        )
        return true
      },
    )
    assert.throws(
      () => resolveConfig({}, { EGGSERVE_OVERWRITE: 'nope' }),
      /expected true\/yes\/on\/1 or false\/no\/off\/0/,
    )
  })
  await test('the --lenient flag (a boolean from commander) wins over the environment', () => {
    assert.equal(resolveConfig({ lenient: true }, {}).lenient, true)
    assert.equal(resolveConfig({ lenient: true }, { EGGSERVE_LENIENT: '0' }).lenient, true)
    assert.equal(resolveConfig({ lenient: false }, { EGGSERVE_LENIENT: '1' }).lenient, false)
  })
})

await describe('resolveConfig: shutdown timeout', async () => {
  const valid: readonly (readonly [string, number])[] = [
    ['0', 0],
    ['1', 1000],
    ['10', 10_000],
    ['2.5', 2500],
    ['0.25', 250],
    ['3600', 3_600_000],
  ]
  for (const [value, expected] of valid) {
    await test(`${value} s → ${expected} ms`, () => {
      assert.equal(resolveConfig({ shutdownTimeout: value }, {}).shutdownTimeoutMs, expected)
      assert.equal(resolveConfig({}, { EGGSERVE_SHUTDOWN_TIMEOUT: value }).shutdownTimeoutMs, expected)
    })
  }
  await test('gives whole milliseconds for fractional seconds', () => {
    // 1.005 * 1000 is 1004.9999999999999 in binary floating point.
    for (const [value, expected] of [
      ['1.005', 1005],
      ['0.001', 1],
      ['4.35', 4350],
    ] as const) {
      const ms = resolveConfig({ shutdownTimeout: value }, {}).shutdownTimeoutMs
      assert.ok(Number.isInteger(ms), `${value} s gave ${ms} ms`)
      assert.equal(ms, expected)
    }
  })
  for (const value of ['-1', 'abc', '3601', '1e3', '', '10s', 'Infinity']) {
    await test(`${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ shutdownTimeout: value }, {}, '--shutdown-timeout', value)
      if (value !== '') assertConfigError({}, { EGGSERVE_SHUTDOWN_TIMEOUT: value }, 'EGGSERVE_SHUTDOWN_TIMEOUT', value)
    })
  }
})

await describe('resolveConfig: log level and log file', async () => {
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const) {
    await test(`log level ${level} is accepted`, () => {
      assert.equal(resolveConfig({ logLevel: level }, {}).logLevel, level)
      assert.equal(resolveConfig({}, { EGGSERVE_LOG_LEVEL: level }).logLevel, level)
    })
  }
  for (const value of ['verbose', 'INFO', 'warning', '30', '']) {
    await test(`log level ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ logLevel: value }, {}, '--log-level', value)
      if (value !== '') assertConfigError({}, { EGGSERVE_LOG_LEVEL: value }, 'EGGSERVE_LOG_LEVEL', value)
    })
  }
  await test('the log file comes from --log, then EGGSERVE_LOG, and is unset by default', () => {
    assert.equal(resolveConfig({}, {}).logFile, undefined)
    assert.equal(resolveConfig({}, { EGGSERVE_LOG: 'env.log' }).logFile, 'env.log')
    assert.equal(resolveConfig({ log: 'flag.log' }, { EGGSERVE_LOG: 'env.log' }).logFile, 'flag.log')
  })
})

await describe('--cache-control', async () => {
  await test('a value that would split the response is refused', () => {
    assertConfigError({ cacheControl: 'max-age=1\r\nX-Evil: 1' }, {}, '--cache-control', 'max-age=1\r\nX-Evil: 1')
    assertConfigError(
      {},
      { EGGSERVE_CACHE_CONTROL: 'no-cache\nX-Evil: 1' },
      'EGGSERVE_CACHE_CONTROL',
      'no-cache\nX-Evil: 1',
    )
  })
  await test('surrounding spaces are trimmed', () => {
    assert.equal(resolveConfig({ cacheControl: '  private, max-age=60 ' }, {}).cacheControl, 'private, max-age=60')
  })
})

await describe('cache directory and workers', async () => {
  await test('the cache directory comes from systemd, then XDG, then HOME', () => {
    assert.equal(
      resolveConfig({}, { CACHE_DIRECTORY: '/var/cache/eggserve:/var/cache/other', HOME: '/home/x' }).cacheDir,
      '/var/cache/eggserve',
    )
    assert.equal(resolveConfig({}, { XDG_CACHE_HOME: '/xdg', HOME: '/home/x' }).cacheDir, '/xdg/eggserve')
    assert.equal(resolveConfig({}, { XDG_CACHE_HOME: 'relative', HOME: '/home/x' }).cacheDir, '/home/x/.cache/eggserve')
    assert.equal(resolveConfig({}, { HOME: '/home/x' }).cacheDir, '/home/x/.cache/eggserve')
    assert.equal(resolveConfig({ cacheDir: '/c' }, { CACHE_DIRECTORY: '/s' }).cacheDir, '/c')
    assert.equal(resolveConfig({ cacheDir: 'none' }, { HOME: '/home/x' }).cacheDir, undefined)
  })
  await test('hash workers: auto or 0-64', () => {
    assert.equal(resolveConfig({ hashWorkers: '0' }, {}).hashWorkers, 0)
    assertConfigError({ hashWorkers: 'many' }, {}, '--hash-workers', 'many')
    assertConfigError({}, { EGGSERVE_HASH_WORKERS: '65' }, 'EGGSERVE_HASH_WORKERS', '65')
  })
  await test('workers: auto or 1-64', () => {
    assert.equal(resolveConfig({ workers: '4' }, {}).workers, 4)
    assert.equal(resolveConfig({}, { EGGSERVE_WORKERS: 'auto' }).workers, 'auto')
    assertConfigError({ workers: '0' }, {}, '--workers', '0')
    assertConfigError({ workers: 'all' }, {}, '--workers', 'all')
    assertConfigError({}, { EGGSERVE_WORKERS: '65' }, 'EGGSERVE_WORKERS', '65')
  })
  await test('reconcile interval in seconds, up to a day', () => {
    assert.equal(resolveConfig({ reconcileInterval: '2.5' }, {}).reconcileIntervalMs, 2500)
    assertConfigError({ reconcileInterval: '86401' }, {}, '--reconcile-interval', '86401')
  })
})

await describe('who may upload (--passwords, --authenticate)', async () => {
  await test('without a password file and without --authenticate, uploads are disabled (the read-only server)', () => {
    const config = resolveConfig({}, {})
    assert.equal(config.uploads, 'disabled')
    assert.equal(config.passwordFile, undefined)
  })

  await test('a password file makes uploads need credentials (default --authenticate update)', () => {
    assert.equal(resolveConfig({ passwords: 'users' }, {}).uploads, 'authenticated')
    assert.deepEqual(resolveConfig({ passwords: 'users' }, {}).authenticate, ['update'])
  })

  await test('--authenticate . without a password file opens uploads to anyone, as asked', () => {
    for (const [flags, env] of [
      [{ authenticate: '.' }, {}],
      [{}, { EGGSERVE_AUTHENTICATE: '.' }],
      [{ authenticate: '.', passwords: '.' }, {}],
    ] as const) {
      const config = resolveConfig(flags, env)
      assert.equal(config.uploads, 'open')
      assert.deepEqual(config.authenticate, [])
    }
  })

  await test('a password file with --authenticate that leaves out update opens uploads (the daemon warns)', () => {
    const config = resolveConfig({ passwords: 'users', authenticate: 'download,list' }, {})
    assert.equal(config.uploads, 'open')
    assert.deepEqual(config.authenticate, ['download', 'list'])
  })

  await test('anything that needs credentials without a password file refuses to start', () => {
    for (const flags of [
      { authenticate: 'update' },
      { authenticate: 'download' },
      { passwords: '.' },
      { passwords: '.', authenticate: 'list' },
    ]) {
      assert.throws(
        () => resolveConfig(flags, {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.match(
            err.message,
            /needs a password file: give --passwords FILE, or --authenticate \. to let anyone upload/,
          )
          return true
        },
        JSON.stringify(flags),
      )
    }
  })

  await test('--authenticate . with a password file is a contradiction', () => {
    assert.throws(
      () => resolveConfig({ passwords: 'users', authenticate: '.' }, {}),
      /cannot be combined with a password file/,
    )
  })

  for (const value of ['', 'upload', 'update,,list', '.,update', 'update;list']) {
    await test(`--authenticate ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ authenticate: value, passwords: 'users' }, {}, '--authenticate', value)
    })
  }
})

await describe('--max-upload-size and --auth-failure-limit', async () => {
  for (const [value, expected] of [
    ['1', 1],
    ['1024', 1024],
    ['10K', 10240],
    ['5m', 5 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['2GiB', 2 * 1024 ** 3],
    ['3 MB', 3 * 1024 ** 2],
  ] as const) {
    await test(`${value} → ${expected} bytes`, () => {
      assert.equal(resolveConfig({ maxUploadSize: value }, {}).maxUploadBytes, expected)
    })
  }
  for (const value of ['0', '-1', '1.5G', '1T', 'big', '']) {
    await test(`size ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError(
        {},
        { EGGSERVE_MAX_UPLOAD_SIZE: value === '' ? ' ' : value },
        'EGGSERVE_MAX_UPLOAD_SIZE',
        value === '' ? ' ' : value,
      )
    })
  }
  for (const value of ['-1', '1.5', 'ten', '1000001']) {
    await test(`failure limit ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ authFailureLimit: value }, {}, '--auth-failure-limit', value)
    })
  }
})

await describe('resolveConfig: --storage and --s3-path-style', async () => {
  await test('an s3:// location from the flag or the environment, the flag first', () => {
    assert.deepEqual(resolveConfig({ storage: 's3://pkgs/pypi' }, {}).storage, { bucket: 'pkgs', prefix: 'pypi/' })
    assert.deepEqual(resolveConfig({}, { EGGSERVE_STORAGE: 's3://pkgs' }).storage, { bucket: 'pkgs', prefix: '' })
    assert.deepEqual(resolveConfig({ storage: 's3://flag/a/b/' }, { EGGSERVE_STORAGE: 's3://env' }).storage, {
      bucket: 'flag',
      prefix: 'a/b/',
    })
  })

  await test('path-style addressing from the flag or the environment', () => {
    assert.equal(resolveConfig({ s3PathStyle: true }, {}).s3PathStyle, true)
    assert.equal(resolveConfig({}, { EGGSERVE_S3_PATH_STYLE: 'yes' }).s3PathStyle, true)
    assertConfigError({}, { EGGSERVE_S3_PATH_STYLE: 'maybe' }, 'EGGSERVE_S3_PATH_STYLE', 'maybe')
  })

  void test('--s3-writers: many by default, one or many from the flag or the environment, nothing else', () => {
    assert.equal(resolveConfig({}, {}).s3Writers, 'many')
    assert.equal(resolveConfig({ s3Writers: 'one' }, { EGGSERVE_S3_WRITERS: 'many' }).s3Writers, 'one')
    assert.equal(resolveConfig({}, { EGGSERVE_S3_WRITERS: 'one' }).s3Writers, 'one')
    assertConfigError({ s3Writers: 'two' }, {}, '--s3-writers', 'two')
    assertConfigError({}, { EGGSERVE_S3_WRITERS: 'One' }, 'EGGSERVE_S3_WRITERS', 'One')
  })

  for (const value of [
    '/srv/eggs',
    's3://',
    's3://b',
    's3:/pkgs/x',
    'S3://pkgs',
    's3://pkgs/a//b',
    's3://pkgs/../x',
    's3://pkgs/./x',
    'https://pkgs.s3.amazonaws.com/x',
  ]) {
    await test(`${JSON.stringify(value)} is refused with a message naming the source`, () => {
      assertConfigError({ storage: value }, {}, '--storage', value)
      assertConfigError({}, { EGGSERVE_STORAGE: value }, 'EGGSERVE_STORAGE', value)
    })
  }
})

await describe('--public-url and --trust-proxy', async () => {
  const cases: [string, string][] = [
    ['https://pypi.example.com', 'https://pypi.example.com/'],
    ['https://pypi.example.com/', 'https://pypi.example.com/'],
    ['HTTPS://PyPI.Example.COM:443/eggs', 'https://pypi.example.com/eggs/'],
    ['http://pypi.example.com:8080/a/b//', 'http://pypi.example.com:8080/a/b/'],
    ['http://[::1]:31001/x/../eggs/', 'http://[::1]:31001/eggs/'],
    [' http://10.0.0.1/my eggs ', 'http://10.0.0.1/my%20eggs/'],
  ]
  for (const [value, expected] of cases) {
    await test(`public URL ${JSON.stringify(value)} → ${expected}`, () => {
      assert.equal(resolveConfig({ publicUrl: value }, {}).publicUrl, expected)
    })
  }
  await test('the public URL comes from EGGSERVE_PUBLIC_URL, the flag wins', () => {
    assert.equal(resolveConfig({}, { EGGSERVE_PUBLIC_URL: 'https://a.example/p' }).publicUrl, 'https://a.example/p/')
    assert.equal(
      resolveConfig({ publicUrl: 'https://b.example' }, { EGGSERVE_PUBLIC_URL: 'https://a.example/p' }).publicUrl,
      'https://b.example/',
    )
  })
  for (const value of [
    'pypi.example.com',
    '/eggs',
    'ftp://pypi.example.com/',
    'https://pypi.example.com/?x=1',
    'https://pypi.example.com/?',
    'https://pypi.example.com/#top',
    'https://user:pw@pypi.example.com/',
    'file:///srv/eggs',
    'http://',
  ]) {
    await test(`public URL ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ publicUrl: value }, {}, '--public-url', value)
    })
  }
  await test('trusted proxies: addresses, CIDR ranges and names, from the flag or EGGSERVE_TRUST_PROXY', () => {
    assert.deepEqual(resolveConfig({ trustProxy: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback' }, {}).trustProxy, [
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ])
    assert.deepEqual(resolveConfig({}, { EGGSERVE_TRUST_PROXY: '192.0.2.1' }).trustProxy, ['192.0.2.1'])
  })
  void test('TLS: --tls-cert and --tls-key (or their variables) together, never one alone', () => {
    assert.deepEqual(resolveConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {}).tls, {
      certFile: 'c.pem',
      keyFile: 'k.pem',
    })
    assert.deepEqual(
      resolveConfig({ tlsKey: 'k2.pem' }, { EGGSERVE_TLS_CERT: 'c.pem', EGGSERVE_TLS_KEY: 'k.pem' }).tls,
      { certFile: 'c.pem', keyFile: 'k2.pem' },
    )
    assert.throws(
      () => resolveConfig({ tlsCert: 'c.pem' }, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === "--tls-cert needs --tls-key (the certificate's private key, PEM) as well",
    )
    assert.throws(
      () => resolveConfig({}, { EGGSERVE_TLS_KEY: 'k.pem' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === 'EGGSERVE_TLS_KEY needs --tls-cert (the certificate chain, PEM) as well',
    )
  })
  for (const value of ['proxy.example', '10.0.0.0/33', '127.0.0.1,,10.0.0.1', '300.1.1.1', 'true', '*']) {
    await test(`trusted proxies ${JSON.stringify(value)} are rejected`, () => {
      assertConfigError({}, { EGGSERVE_TRUST_PROXY: value }, 'EGGSERVE_TRUST_PROXY', value)
    })
  }
})

await describe('--x-accel-redirect', async () => {
  await test('an internal location path, without its trailing slash, from the flag or EGGSERVE_X_ACCEL_REDIRECT', () => {
    assert.equal(resolveConfig({ xAccelRedirect: '/_eggfiles/' }, {}).xAccelRedirect, '/_eggfiles')
    assert.equal(resolveConfig({}, { EGGSERVE_X_ACCEL_REDIRECT: '/internal/eggs' }).xAccelRedirect, '/internal/eggs')
    assert.equal(
      resolveConfig({ xAccelRedirect: '/flag' }, { EGGSERVE_X_ACCEL_REDIRECT: '/env' }).xAccelRedirect,
      '/flag',
    )
  })
  // nginx refuses "." and ".." segments in X-Accel-Redirect (ngx_http_parse_unsafe_uri); a query
  // or an escape would change what the file's path means.
  for (const value of ['_eggfiles', '/', '/a/../b', '/./a', '/a b', '/a?x', '/a%2fb', '/a#b', '@named', 'http://x/a']) {
    await test(`prefix ${JSON.stringify(value)} is rejected`, () => {
      assertConfigError({ xAccelRedirect: value }, {}, '--x-accel-redirect', value)
    })
  }
  await test('a bucket cannot be offloaded: nginx sends files from a local folder', () => {
    assert.throws(
      () => resolveConfig({ xAccelRedirect: '/_eggfiles', storage: 's3://pkgs' }, {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(
          err.message,
          /--x-accel-redirect \(--x-accel-redirect\) needs a local eggdir: nginx cannot send files from s3:\/\/pkgs/,
        )
        return true
      },
    )
  })
})

await describe('--metrics and --metrics-listen', async () => {
  await test('--metrics serves them on the main listener', () => {
    assert.deepEqual(resolveConfig({ metrics: true }, {}).metrics, { enabled: true, listen: undefined })
    assert.deepEqual(resolveConfig({}, { EGGSERVE_METRICS: 'yes' }).metrics, { enabled: true, listen: undefined })
  })

  await test('--metrics-listen alone turns them on, on that address only', () => {
    assert.deepEqual(resolveConfig({ metricsListen: 'localhost:0' }, {}).metrics, {
      enabled: true,
      listen: { host: 'localhost', port: 0 },
    })
    assert.deepEqual(resolveConfig({ metrics: true, metricsListen: '10.1.2.3:9464' }, {}).metrics, {
      enabled: true,
      listen: { host: '10.1.2.3', port: 9464 },
    })
  })

  await test('a bad address or boolean is refused with its source', () => {
    for (const value of [
      '9464',
      '127.0.0.1',
      '127.0.0.1:',
      ':9464',
      '::1:9464',
      '[::1]',
      '127.0.0.1:65536',
      'a b:1',
      'http://x:1',
    ]) {
      assertConfigError({ metricsListen: value }, {}, '--metrics-listen', value)
    }
    assertConfigError({}, { EGGSERVE_METRICS_LISTEN: 'nowhere' }, 'EGGSERVE_METRICS_LISTEN', 'nowhere')
    assertConfigError({}, { EGGSERVE_METRICS: 'maybe' }, 'EGGSERVE_METRICS', 'maybe')
  })
})
