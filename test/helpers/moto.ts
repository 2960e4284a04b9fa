// A real S3 server for tests: moto's (`python -m moto.server`), installed with pyenv's Python
// 3.11 on these machines (it is not in the local pip mirror: never pip install it). One
// server per test file on a free loopback port, buckets made with the real SDK, stopped by
// its PID when the test ends. Missing moto skips the test, or fails it under CI=true (needTool).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import type { S3StorageSpec } from '../../src/storage/open-storage.js'
import { needTool } from './tools.js'
import { killOnExit } from './exit-cleanup.js'

/** Credentials moto accepts (it checks none); also what child processes get. */
export const MOTO_ENV = {
  AWS_ACCESS_KEY_ID: 'eggserve-test-key',
  AWS_SECRET_ACCESS_KEY: 'eggserve-test-secret-0123456789',
  AWS_REGION: 'us-east-1',
} as const

/** A running moto server. */
export interface Moto {
  /** e.g. http://127.0.0.1:40123 */
  readonly endpoint: string
  /** A client for the test's own reads and writes (path-style, like the stores eggserve meets). */
  readonly client: S3Client
  /** Make a new, empty bucket with a unique name; returns the name. */
  createBucket(): Promise<string>
  /** The storage spec of `bucket`/`prefix` reached at `endpoint` (default: moto itself). */
  spec(bucket: string, options?: { prefix?: string; endpoint?: string } & Partial<S3StorageSpec>): S3StorageSpec
  /** The environment a child eggserve needs to reach `endpoint` (default: moto itself). */
  env(endpoint?: string): Record<string, string>
}

/** The interpreter moto is installed with. */
export function motoPython(): string {
  const root = process.env.PYENV_ROOT ?? join(homedir(), '.pyenv')
  return join(root, 'versions', '3.11.7', 'bin', 'python')
}

let bucketCounter = 0

/**
 * Start moto for this test (stopped after it). Undefined when moto is missing: the test is
 * then skipped with a message, or failed under CI=true.
 */
export async function startMoto(t: TestContext): Promise<Moto | undefined> {
  // The in-process SDK uses the standard chain: environment credentials come first.
  Object.assign(process.env, MOTO_ENV)
  const python = motoPython()
  if (needTool(t, `pyenv's Python 3.11.7 with moto (${python})`, existsSync(python) ? python : undefined) === undefined)
    return undefined
  const port = await freePort()
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve()
    })
  })
  const forget = killOnExit(() => {
    stop(child)
  })
  t.after(async () => {
    forget()
    stop(child)
    await exited
  })
  const endpoint = `http://127.0.0.1:${port}`
  if (!(await answers(endpoint, child))) {
    if (stderr.includes('No module named moto')) {
      needTool(t, `moto (python -m moto.server with ${python})`, undefined)
      return undefined
    }
    throw new Error(`moto did not start on ${endpoint}: ${stderr}`)
  }
  const client = new S3Client({
    endpoint,
    region: MOTO_ENV.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY },
  })
  t.after(() => {
    client.destroy()
  })
  return {
    endpoint,
    client,
    createBucket: async () => {
      // moto refuses one-character names (InvalidBucketName): real, unique names.
      const bucket = `eggserve-test-${process.pid}-${++bucketCounter}`
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      return bucket
    },
    spec: (bucket, options = {}) => {
      const { prefix = '', endpoint: through = endpoint, ...rest } = options
      return { kind: 's3', bucket, prefix, pathStyle: true, endpoint: through, region: MOTO_ENV.AWS_REGION, ...rest }
    },
    env: (through = endpoint) => ({ ...MOTO_ENV, AWS_ENDPOINT_URL_S3: through }),
  }
}

// By its PID, never by name.
function stop(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
    process.kill(child.pid, 'SIGTERM')
}

// Poll until moto answers HTTP (it takes a second or two to import), or until it exits.
async function answers(endpoint: string, child: ChildProcess): Promise<boolean> {
  for (let tries = 0; tries < 600; tries++) {
    if (child.exitCode !== null) return false
    try {
      const res = await fetch(`${endpoint}/`)
      await res.arrayBuffer()
      return true
    } catch {
      await sleep(50)
    }
  }
  return false
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => {
        resolve(port)
      })
    })
  })
}
