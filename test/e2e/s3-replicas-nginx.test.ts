// Three eggserve replicas on one moto bucket behind a real nginx load balancer (Debian's, an
// `upstream` with least_conn, as docs/s3-replicas.md shows): a twine upload through nginx
// shows on every replica (each asked directly; how long it took is reported, not asserted),
// and pip installs it through nginx with --require-hashes, again and again, whichever replica
// answers. The balancer's access log shows that more than one replica answered.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildWheel, writeDist } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { freePort, startNginx } from '../helpers/nginx.js'
import { createVenv, installHashed, isolatedEnv, output } from '../helpers/python.js'
import { runProcess, startServer, type RunResult, type ServerHandle } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { needTool } from '../helpers/tools.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

async function lists(server: ServerHandle, project: string, filename: string): Promise<boolean> {
  const res = await fetch(`${server.url}/simple/${project}/`)
  const body = await res.text()
  return res.status === 200 && body.includes(filename)
}

await test('three replicas on one bucket behind nginx', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const twine = needTool(t, 'twine')
  if (twine === undefined) return
  const root = await tempDir(t, 'eggserve-replicas-')
  const bucket = await moto.createBucket()
  const args = ['--storage', `s3://${bucket}/pypi`, '--s3-path-style', '--authenticate', '.', '--hash-workers', '0']
  const replicas = await Promise.all([0, 1, 2].map(() => startServer(t, { args, env: moto.env() })))
  const port = await freePort()
  const nginx = await startNginx(t, {
    port,
    http: `upstream eggserve {
    least_conn;
    ${replicas.map((replica) => `server 127.0.0.1:${String(replica.port)};`).join('\n    ')}
  }
  log_format upstream '$upstream_addr $request';
  server {
    listen 127.0.0.1:${String(port)};
    client_max_body_size 100m;
    access_log ${join(root, 'upstream.log')} upstream;
    location / {
      proxy_pass http://eggserve;
      proxy_set_header Host $http_host;
    }
  }`,
  })
  if (nginx === undefined) return
  const venv = await createVenv(t)
  if (venv === undefined) return

  const wheel = buildWheel({ name: 'balanced', version: '1.0', moduleSource: "__version__ = 'balanced'\n" })
  const file = await writeDist(join(root, 'dist'), wheel)

  await t.test('a twine upload through nginx shows on all three replicas', async (t) => {
    const clientEnv = isolatedEnv(await tempDir(t, 'eggserve-replicas-home-'))
    await mkdir(join(clientEnv.HOME ?? root, '.config'), { recursive: true })
    const uploaded = await runProcess(
      twine,
      [
        'upload',
        '--repository-url',
        `${nginx.url}/legacy/`,
        '-u',
        'anyone',
        '-p',
        'anything',
        '--non-interactive',
        '--disable-progress-bar',
        file,
      ],
      { env: clientEnv, timeoutMs: 60_000 },
    )
    assert.equal(uploaded.code, 0, `${uploaded.stdout}\n${uploaded.stderr}`)
    const started = performance.now()
    const times = await Promise.all(
      replicas.map(async (replica) => {
        while (!(await lists(replica, 'balanced', wheel.filename))) await sleep(20)
        return Math.round(performance.now() - started)
      }),
    )
    t.diagnostic(`the upload was listed by the three replicas ${times.join(', ')} ms after twine finished`)
  })

  await t.test('pip installs through nginx with --require-hashes, whichever replica answers', async () => {
    const requirements = join(root, 'requirements.txt')
    await writeFile(requirements, `balanced==1.0 --hash=sha256:${sha256(wheel.bytes)}\n`)
    for (let round = 0; round < 4; round++) {
      const target = join(root, `target-${round}`)
      const result: RunResult = await installHashed(venv, {
        index: `${nginx.url}/simple/`,
        requirements,
        target,
      })
      assert.equal(result.code, 0, output(result))
      const imported: RunResult = await venv.run(['-c', 'import balanced; print(balanced.__version__)'], {
        env: { PYTHONPATH: target },
      })
      assert.equal(imported.stdout.trim(), 'balanced')
    }
    const log = await readFile(join(root, 'upstream.log'), 'utf8')
    const answered = new Set(
      log
        .split('\n')
        .filter((line) => line.includes('/simple/balanced/') || line.includes('/packages/'))
        .map((line) => line.split(' ')[0]),
    )
    assert.ok(
      answered.size > 1,
      `only ${[...answered].join(', ')} answered pip: the balancer did not spread the requests`,
    )
  })
})
