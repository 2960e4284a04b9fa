// HTTPS without a proxy: the certificate chain and key of --tls-cert/--tls-key, read and checked
// before they are used, at start-up and again on SIGHUP (a renewed certificate is taken without
// a restart: tls.Server#setSecureContext changes what new handshakes get; connections open
// already keep theirs).
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { TlsFiles } from '../config.js'
import { describeErrno, TlsError } from '../errors.js'

/** The PEM bytes of a certificate chain and its key, checked to belong together. */
export interface TlsCredentials {
  readonly cert: Buffer
  readonly key: Buffer
}

/** Read both files and check that OpenSSL accepts them as a pair; a TlsError in one line otherwise. */
export async function loadTlsCredentials(files: TlsFiles): Promise<TlsCredentials> {
  const cert = await readPem(files.certFile, 'certificate')
  const key = await readPem(files.keyFile, 'key')
  try {
    // What https.createServer() would do with them, so a bad pair fails here, in words.
    createSecureContext({ cert, key })
  } catch (err) {
    throw new TlsError(
      `Cannot use the TLS certificate "${files.certFile}" with the key "${files.keyFile}": ${opensslReason(err)}`,
      { cause: err },
    )
  }
  return { cert, key }
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new TlsError(`Cannot read the TLS ${what} "${file}": ${describeErrno(err)}`, { cause: err })
  }
}

// OpenSSL's messages read "error:05800074:x509 certificate routines::key values mismatch":
// keep the words after the last "::", and say what the common ones mean.
function opensslReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const reason = message.split('::').pop()?.trim() ?? message
  switch (reason) {
    case 'key values mismatch':
      return 'the key does not belong to the certificate'
    case 'no start line':
      return 'not a PEM file (no "-----BEGIN" line)'
    default:
      return reason
  }
}
