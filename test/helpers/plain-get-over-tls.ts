// The https half of the plain GET tests (s3-plain-get, upstream-plain-file-get): a TLS server
// with a self-signed certificate, and plain-get-probe.ts run in a child process that trusts it
// (NODE_EXTRA_CA_CERTS is read once, when Node starts) or does not.
import { execFile } from 'node:child_process'
import { createServer as createHttpsServer } from 'node:https'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { repoRoot } from './spawn-server.js'
import { tempDir } from './temp-tree.js'
import { listenForTest, selfSignedCertificate } from './test-certificate.js'
import { needTool } from './tools.js'

/** What the probe printed, trusting the server's certificate and not. */
export interface ProbeRuns {
  readonly trusted: unknown
  readonly untrusted: unknown
}

/**
 * Serve `body` over https at `path` and run the probe (`args` after the URL and the length)
 * twice; undefined when openssl is missing (the test is skipped).
 */
export async function probeOverTls(
  t: TestContext,
  body: Buffer,
  path: string,
  args: readonly string[] = [],
): Promise<ProbeRuns | undefined> {
  const openssl = needTool(t, 'openssl')
  if (openssl === undefined) return undefined
  const { key, cert, certPath } = await selfSignedCertificate(openssl, await tempDir(t))
  const server = createHttpsServer({ key, cert }, (_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length) })
    res.end(body)
  })
  const url = `https://127.0.0.1:${String(await listenForTest(t, server))}${path}`
  const probe = async (env: NodeJS.ProcessEnv): Promise<unknown> => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        ...['--import', 'tsx', fileURLToPath(new URL('plain-get-probe.ts', import.meta.url))],
        ...[url, String(body.length), ...args],
      ],
      { cwd: repoRoot, env },
    )
    return JSON.parse(stdout)
  }
  const env = { ...process.env }
  delete env.NODE_EXTRA_CA_CERTS
  return { trusted: await probe({ ...env, NODE_EXTRA_CA_CERTS: certPath }), untrusted: await probe(env) }
}
