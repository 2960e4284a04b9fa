// `--passwords credential:NAME`: the password file systemd's LoadCredential= put into
// $CREDENTIALS_DIRECTORY, resolved with the rest of the configuration.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resolveConfig } from '../../src/config.js'
import { ConfigError } from '../../src/errors.js'

const SYSTEMD = { CREDENTIALS_DIRECTORY: '/run/credentials/eggserve.service' }

await describe('--passwords credential:NAME', async () => {
  await test('names $CREDENTIALS_DIRECTORY/NAME, from the flag or from EGGSERVE_PASSWORDS, and needs credentials for uploads', () => {
    for (const [flags, env] of [
      [{ passwords: 'credential:htpasswd' }, SYSTEMD],
      [{}, { ...SYSTEMD, EGGSERVE_PASSWORDS: 'credential:htpasswd' }],
    ] as const) {
      const config = resolveConfig(flags, env)
      assert.equal(config.passwordFile, '/run/credentials/eggserve.service/htpasswd')
      assert.equal(config.uploads, 'authenticated')
    }
    assert.equal(
      resolveConfig({ passwords: 'credential:users' }, { CREDENTIALS_DIRECTORY: '/run/credentials/x/' }).passwordFile,
      '/run/credentials/x/users',
    )
  })

  await test('anything else is a path, as before', () => {
    for (const path of ['/etc/eggserve/htpasswd', 'users', './credential:htpasswd', 'credentials:htpasswd']) {
      assert.equal(resolveConfig({ passwords: path }, SYSTEMD).passwordFile, path)
    }
  })

  await test('without $CREDENTIALS_DIRECTORY (no LoadCredential= in the unit), eggserve refuses to start and says what to add', () => {
    for (const env of [{}, { CREDENTIALS_DIRECTORY: '' }]) {
      assert.throws(
        () => resolveConfig({ passwords: 'credential:htpasswd' }, env),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.equal(
            err.message,
            '"credential:htpasswd" (--passwords) names a systemd credential, but $CREDENTIALS_DIRECTORY is not set: add LoadCredential=htpasswd:/etc/eggserve/htpasswd to the unit, or give the file\'s path',
          )
          return true
        },
      )
    }
  })

  for (const value of ['credential:', 'credential:..', 'credential:.', 'credential:../etc/shadow', 'credential:a/b']) {
    await test(`${value} is refused: not a credential name`, () => {
      assert.throws(
        () => resolveConfig({}, { ...SYSTEMD, EGGSERVE_PASSWORDS: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.match(err.message, /^Invalid credential name in ".*" \(EGGSERVE_PASSWORDS\): expected credential:NAME/)
          return true
        },
      )
    })
  }
})
