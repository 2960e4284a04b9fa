// The password file as a systemd credential (pure). Under the shipped unit the service's user
// is allocated at start-up (DynamicUser=yes) and sees only the "other" bits of files
// (PrivateUsers=yes), so a plain password file would have to be world-readable. With
// LoadCredential=NAME:PATH, systemd copies PATH at start-up into a directory only the service
// can read and names it in $CREDENTIALS_DIRECTORY (systemd.exec(5), "Credentials";
// https://systemd.io/CREDENTIALS/). `--passwords credential:NAME` means that copy.
import { ConfigError } from '../errors.js'

const PREFIX = 'credential:'

/**
 * The file a --passwords value names: `credential:NAME` is $CREDENTIALS_DIRECTORY/NAME, anything
 * else is a path (`./credential:x` for a file really called so). Throws ConfigError when the
 * credential cannot be found this way.
 * @example resolvePasswordPath('credential:htpasswd', '--passwords', { CREDENTIALS_DIRECTORY: '/run/credentials/eggserve.service' })
 * // '/run/credentials/eggserve.service/htpasswd'
 */
export function resolvePasswordPath(
  value: string,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (!value.startsWith(PREFIX)) return value
  const name = value.slice(PREFIX.length)
  // systemd's own rule for credential names: a valid file name.
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\u0000')) {
    throw new ConfigError(
      `Invalid credential name in "${value}" (${source}): expected credential:NAME, NAME being the first part of LoadCredential=NAME:PATH`,
    )
  }
  const directory = env.CREDENTIALS_DIRECTORY
  if (directory === undefined || directory === '') {
    throw new ConfigError(
      `"${value}" (${source}) names a systemd credential, but $CREDENTIALS_DIRECTORY is not set: add LoadCredential=${name}:/etc/eggserve/htpasswd to the unit, or give the file's path`,
    )
  }
  return `${directory.replace(/\/+$/, '')}/${name}`
}
