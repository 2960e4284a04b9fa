// moto's S3 server (`python -m moto.server`, installed with pyenv's Python 3.11 on these
// machines; never pip-installed) as the store of the --only s3 rows: one process on a free
// loopback port, registered for cleanup like every process the bench starts.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { onCleanup } from './cleanup.js'
import { freePort } from './servers.js'

/** Credentials moto accepts (it checks none); eggserve gets them in its environment. */
const CREDENTIALS = { accessKeyId: 'eggserve-bench-key', secretAccessKey: 'eggserve-bench-secret-0123456789' }
const REGION = 'us-east-1'

export interface MotoStore {
  readonly endpoint: string
  /** The server's process (for its CPU time). */
  readonly pid: number
  /** The bench's own client (path-style, as eggserve is started with --s3-path-style). */
  readonly client: S3Client
  /** The environment an eggserve needs to reach it. */
  readonly env: Readonly<Record<string, string>>
  createBucket(name: string): Promise<void>
  stop(): Promise<void>
}

/** pyenv's Python 3.11.7, which has moto; undefined when it is not installed. */
export function motoPython(env: NodeJS.ProcessEnv): string | undefined {
  const python = join(env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions', '3.11.7', 'bin', 'python')
  return existsSync(python) ? python : undefined
}

export async function startMoto(python: string): Promise<MotoStore> {
  const port = await freePort()
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => {
      resolve()
    }),
  )
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  const stop = async (): Promise<void> => {
    if (running()) child.kill('SIGTERM')
    await exited
  }
  const unregister = onCleanup(`moto (pid ${String(child.pid)})`, stop, () => {
    if (running()) child.kill('SIGKILL')
  })
  const endpoint = `http://127.0.0.1:${String(port)}`
  for (let tries = 0; ; tries++) {
    if (!running() || tries > 600) {
      await stop()
      unregister()
      throw new Error(`moto did not start on ${endpoint}: ${stderr.trim()}`)
    }
    try {
      await (await fetch(`${endpoint}/`)).arrayBuffer()
      break
    } catch {
      await sleep(50)
    }
  }
  const client = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: CREDENTIALS })
  return {
    endpoint,
    pid: child.pid ?? 0,
    client,
    env: {
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_S3: endpoint,
    },
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }))
    },
    stop: async () => {
      client.destroy()
      await stop()
      unregister()
    },
  }
}
