// A self-signed certificate for a TLS test server on 127.0.0.1 (an elliptic-curve key: fast to
// make), and a listener helper for such servers.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'

/** The key and certificate made in `dir` (cert.pem, key.pem), for 127.0.0.1 and localhost. */
export async function selfSignedCertificate(
  openssl: string,
  dir: string,
): Promise<{ key: Buffer; cert: Buffer; certPath: string }> {
  await promisify(execFile)(
    openssl,
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1'],
      // A client checks an IP address against the subjectAltName, not the CN.
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ],
    { cwd: dir },
  )
  const certPath = join(dir, 'cert.pem')
  return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(certPath), certPath }
}

/** Listen on a free loopback port, closed (with its connections) after the test; the port. */
export async function listenForTest(t: TestContext, server: Server | HttpsServer): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return (server.address() as AddressInfo).port // a TCP listener's address
}
