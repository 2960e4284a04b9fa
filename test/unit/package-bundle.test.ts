// The published package bundles its runtime dependencies (package.json's bundleDependencies),
// so `npm install -g` of the tarball needs no registry: a dependency left off the list is
// fetched at install time, which fails on an offline machine.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const ROOT = new URL('../../', import.meta.url)

await test('bundleDependencies lists every dependency', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
    dependencies: Record<string, string>
    bundleDependencies: string[]
  }
  assert.deepEqual([...pkg.bundleDependencies].sort(), Object.keys(pkg.dependencies).sort())
})

await test('the shrinkwrap marks every dependency as bundled', () => {
  const lock = JSON.parse(readFileSync(new URL('npm-shrinkwrap.json', ROOT), 'utf8')) as {
    packages: Record<string, { inBundle?: boolean }>
  }
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
    dependencies: Record<string, string>
  }
  for (const name of Object.keys(pkg.dependencies))
    assert.equal(lock.packages[`node_modules/${name}`]?.inBundle, true, name)
})
