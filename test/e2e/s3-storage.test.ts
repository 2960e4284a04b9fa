// The real daemon on a real (moto) bucket: `eggserve --storage s3://bucket/prefix
// --s3-path-style`, with the endpoint and credentials from the standard AWS variables. pip
// installs with --require-hashes what a person put in the bucket and what twine uploaded;
// the start-up probe reports whether the store enforces create-only writes.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { buildSdist, buildWheel, writeDist } from '../helpers/distributions.js'
import { startMoto } from '../helpers/moto.js'
import { createVenv, installHashed, isolatedEnv, output } from '../helpers/python.js'
import { startFaultProxy } from '../helpers/s3-fault-proxy.js'
import { runCli, runProcess, startServer, type RunResult } from '../helpers/spawn-server.js'
import { tempDir } from '../helpers/temp-tree.js'
import { multipart, uploadParts } from '../helpers/upload-form.js'
import { needTool } from '../helpers/tools.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function describeRun(result: RunResult): string {
  return `exit ${String(result.code)}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

await test('eggserve --storage s3://bucket/prefix on moto, with pip and twine', async (t) => {
  const moto = await startMoto(t)
  if (moto === undefined) return
  const twine = needTool(t, 'twine')
  const htpasswd = needTool(t, 'htpasswd')
  if (twine === undefined || htpasswd === undefined) return
  const root = await tempDir(t, 'eggserve-s3-e2e-')
  const bucket = await moto.createBucket()
  const object = async (key: string): Promise<Buffer | undefined> => {
    try {
      const got = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return Buffer.from((await got.Body?.transformToByteArray()) ?? [])
    } catch {
      return undefined
    }
  }
  // What a person copies in with `aws s3 cp`: the folder-per-project layout under the prefix.
  const placed = buildWheel({ name: 'Placed.Pkg', version: '1.0', moduleSource: "__version__ = 'placed'\n" })
  await moto.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: `team/pypi/Placed.Pkg/${placed.filename}`, Body: placed.bytes }),
  )
  const passwords = join(root, 'htpasswd')
  const made = await runProcess(htpasswd, ['-bBc', passwords, 'alice', 'wonderland'])
  assert.equal(made.code, 0, made.stderr)

  // Default --hash-workers: the worker threads open the bucket too.
  const server = await startServer(t, {
    args: ['--storage', `s3://${bucket}/team/pypi`, '--s3-path-style', '--passwords', passwords],
    env: moto.env(),
  })
  const serving = await server.waitForLine((line) => line.msg === 'Serving')
  assert.equal(serving.eggdir, `s3://${bucket}/team/pypi`)
  assert.equal(serving.projects, 1)
  const probe = await server.waitForLine((line) => line.conditionalWrites !== undefined)
  assert.equal(probe.conditionalWrites, 'enforced', JSON.stringify(probe))

  const venv = await createVenv(t)
  if (venv === undefined) return
  const install = async (label: string, requirement: string, module: string): Promise<string> => {
    const requirements = join(root, `${label}.txt`)
    await writeFile(requirements, requirement)
    const target = join(root, `target-${label}`)
    const result = await installHashed(venv, {
      index: `${server.url}/simple/`,
      requirements,
      target,
    })
    assert.equal(result.code, 0, output(result))
    const imported = await venv.run(['-c', `import ${module}; print(${module}.__version__)`], {
      env: { PYTHONPATH: target },
    })
    return imported.stdout.trim()
  }

  await t.test('pip installs a wheel a person put in the bucket, its sha256 checked', async () => {
    assert.equal(
      await install('placed', `placed-pkg==1.0 --hash=sha256:${sha256(placed.bytes)}\n`, 'placed_pkg'),
      'placed',
    )
  })

  const clientEnv = isolatedEnv(await tempDir(t, 'eggserve-s3-twine-home-'))
  await mkdir(join(clientEnv.HOME ?? root, '.config'), { recursive: true })
  const upload = (files: readonly string[], password = 'wonderland'): Promise<RunResult> =>
    runProcess(
      twine,
      [
        'upload',
        '--repository-url',
        `${server.url}/legacy/`,
        '-u',
        'alice',
        '-p',
        password,
        '--non-interactive',
        '--disable-progress-bar',
        ...files,
      ],
      { env: clientEnv, timeoutMs: 60_000 },
    )
  const uploaded = [
    buildWheel({ name: 'twine-s3', version: '1.0', moduleSource: "__version__ = 'uploaded'\n" }),
    buildSdist({ name: 'twine-s3', version: '1.0' }),
  ]
  const files = await Promise.all(uploaded.map((dist) => writeDist(join(root, 'dist'), dist)))

  await t.test('twine uploads into the bucket; pip installs the upload with its sha256', async () => {
    const result = await upload(files)
    assert.equal(result.code, 0, describeRun(result))
    for (const dist of uploaded) assert.deepEqual(await object(`team/pypi/twine-s3/${dist.filename}`), dist.bytes)
    assert.equal(
      await install(
        'uploaded',
        `twine-s3==1.0 --hash=sha256:${sha256(uploaded[0]?.bytes ?? Buffer.alloc(0))}\n`,
        'twine_s3',
      ),
      'uploaded',
    )
  })

  await t.test(
    'the same files again succeed; different bytes under an existing name get 409; a wrong password 401',
    async () => {
      const again = await upload(files)
      assert.equal(again.code, 0, describeRun(again))
      const changed = buildWheel({ name: 'twine-s3', version: '1.0', summary: 'changed' })
      const conflict = await upload([await writeDist(join(root, 'changed'), changed)])
      assert.notEqual(conflict.code, 0)
      assert.match(describeRun(conflict), /409 Conflict/)
      assert.deepEqual(await object(`team/pypi/twine-s3/${changed.filename}`), uploaded[0]?.bytes)
      const wrong = await upload(
        [await writeDist(join(root, 'v2'), buildWheel({ name: 'twine-s3', version: '2.0' }))],
        'not the password',
      )
      assert.match(describeRun(wrong), /401 Unauthorized/)
      assert.equal(await object('team/pypi/twine-s3/twine_s3-2.0-py3-none-any.whl'), undefined)
    },
  )

  await t.test(
    'a store that ignores If-None-Match: reported at start-up, uploads refused with several writers, accepted with --s3-writers one',
    async (t) => {
      const proxy = await startFaultProxy(t, moto.endpoint)
      proxy.ignoreIfNoneMatch = true
      // A bucket of its own: the upload below must not change the other subtests' tree.
      const own = await moto.createBucket()
      const stored = async (key: string): Promise<Buffer | undefined> => {
        try {
          const got = await moto.client.send(new GetObjectCommand({ Bucket: own, Key: key }))
          return Buffer.from((await got.Body?.transformToByteArray()) ?? [])
        } catch {
          return undefined
        }
      }
      const lax = await startServer(t, {
        args: ['--storage', `s3://${own}/team/pypi`, '--s3-path-style', '--authenticate', '.'],
        env: moto.env(proxy.url),
      })
      const line = await lax.waitForLine((record) => record.conditionalWrites !== undefined)
      assert.equal(line.conditionalWrites, 'ignored')
      assert.equal(line.level, 40)
      assert.match(
        String(line.msg),
        /does not enforce create-only writes: PutObject with If-None-Match: \* replaced an existing object.*Only one server may accept uploads for it/,
      )
      const refused = await lax.waitForLine(
        (record) => typeof record.msg === 'string' && record.msg.startsWith('Uploads are refused'),
      )
      assert.equal(refused.level, 50)
      const dist = buildSdist({ name: 'lax-store', version: '1.0' })
      const send = async (url: string): Promise<{ status: number; text: string }> => {
        const form = multipart(await uploadParts(dist, { name: 'lax-store', version: '1.0' }))
        const res = await fetch(`${url}/legacy/`, {
          method: 'POST',
          body: form.body,
          headers: { 'content-type': form.contentType },
        })
        return { status: res.status, text: await res.text() }
      }
      const answer = await send(lax.url)
      assert.equal(answer.status, 503)
      assert.match(answer.text, /ignores create-only writes \(If-None-Match\).*--s3-writers one/)
      assert.equal(await stored(`team/pypi/lax-store/${dist.filename}`), undefined)
      await lax.stop()
      const single = await startServer(t, {
        args: ['--storage', `s3://${own}/team/pypi`, '--s3-path-style', '--authenticate', '.', '--s3-writers', 'one'],
        env: moto.env(proxy.url),
      })
      await single.waitForLine((record) => record.conditionalWrites !== undefined)
      assert.equal((await send(single.url)).status, 200)
      assert.deepEqual(await stored(`team/pypi/lax-store/${dist.filename}`), dist.bytes)
      assert.equal(
        single.lines.some((record) => typeof record.msg === 'string' && record.msg.startsWith('Uploads are refused')),
        false,
      )
    },
  )

  await t.test('a bucket that does not exist: exit 1 with one line naming it', async () => {
    const result = await runCli(
      ['--storage', 's3://no-such-bucket-here/pypi', '--s3-path-style', '--port', '0', '--host', '127.0.0.1'],
      moto.env(),
    )
    assert.equal(result.code, 1, describeRun(result))
    assert.match(
      result.stderr,
      /^eggserve: Cannot serve "s3:\/\/no-such-bucket-here\/pypi" \(EGGSERVE_STORE_MISSING\): The package store's bucket does not exist/m,
    )
    assert.match(result.stdout, /"s3":\{"error":"NoSuchBucket","status":404/)
  })

  await t.test('eggserve check reads the bucket EGGSERVE_STORAGE names', async () => {
    const result = await runCli(['check'], {
      ...moto.env(),
      EGGSERVE_STORAGE: `s3://${bucket}/team/pypi`,
      EGGSERVE_S3_PATH_STYLE: 'true',
    })
    assert.equal(result.code, 0, describeRun(result))
    assert.equal(result.stdout, `"s3://${bucket}/team/pypi": 2 projects, 3 distributions, no problems\n`)
  })
})
