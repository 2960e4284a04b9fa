// What the browse UI's project list shows of a cached upstream page (src/upstream/cached-projects.ts)
// and the latest-version rule it shares with local projects (src/core/versions.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { NO_COOLDOWN, type CooldownRule } from '../../src/core/cooldown.js'
import type { UpstreamFile, UpstreamPage } from '../../src/core/upstream-page.js'
import { latestVersionOf } from '../../src/core/versions.js'
import { summarizePage } from '../../src/upstream/cached-projects.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-06-10T12:00:00Z')

function file(filename: string, extra: Partial<UpstreamFile> = {}): UpstreamFile {
  return { filename, url: `https://files.example/${filename}`, hashes: {}, ...extra }
}

await test('latestVersionOf: the highest final release not all yanked, else a pre-release, else the highest', () => {
  const cases: [{ version: string; yanked: boolean }[], string | undefined][] = [
    [[], undefined],
    [
      [
        { version: '1.0', yanked: false },
        { version: '2.0b1', yanked: false },
      ],
      '1.0',
    ],
    [
      [
        { version: '1.0', yanked: false },
        { version: '2.0', yanked: true },
      ],
      '1.0',
    ],
    // One file of 2.0 is not yanked: the release is not.
    [
      [
        { version: '2.0', yanked: true },
        { version: '2.0', yanked: false },
        { version: '1.0', yanked: false },
      ],
      '2.0',
    ],
    [
      [
        { version: '2.0b1', yanked: false },
        { version: '1.0', yanked: true },
      ],
      '2.0b1',
    ],
    [
      [
        { version: '1.0', yanked: true },
        { version: '0.9', yanked: true },
      ],
      '1.0',
    ],
    [
      [
        { version: '1.0.0', yanked: false },
        { version: '1.0-post1', yanked: false },
      ],
      '1.0.post1',
    ],
  ]
  for (const [files, expected] of cases) assert.equal(latestVersionOf(files), expected, JSON.stringify(files))
})

await test('summarizePage: latest version and newest upload of what the page lists, the cooldown applied', () => {
  const page: UpstreamPage = {
    project: 'demo',
    files: [
      file('demo-1.0-py3-none-any.whl', { uploadTime: '2026-05-01T00:00:00Z' }),
      file('demo-1.0.tar.gz', { uploadTime: '2026-05-02T00:00:00Z' }),
      file('demo-2.0-py3-none-any.whl', { uploadTime: '2026-06-09T12:00:00Z' }),
      file('demo-3.0-py3-none-any.whl', { uploadTime: '2026-06-10T00:00:00Z', yanked: 'broken' }),
    ],
  }
  assert.deepEqual(summarizePage(page, NO_COOLDOWN, NOW), {
    version: '2.0',
    lastUploadMs: Date.parse('2026-06-10T00:00:00Z'),
    changesAtMs: Infinity,
  })
  const week: CooldownRule = { minAgeMs: 7 * DAY, undated: 'hide' }
  // 2.0 and 3.0 are younger than a week: held back, so 1.0 is the latest until 2.0 comes of age.
  assert.deepEqual(summarizePage(page, week, NOW), {
    version: '1.0',
    lastUploadMs: Date.parse('2026-05-02T00:00:00Z'),
    changesAtMs: Date.parse('2026-06-16T12:00:00Z'),
  })
  // Undated files (a PEP 503 HTML page) have no upload time; under a cooldown they are hidden.
  const undated: UpstreamPage = { project: 'demo', files: [file('demo-1.0.tar.gz')] }
  assert.deepEqual(summarizePage(undated, NO_COOLDOWN, NOW), { version: '1.0', lastUploadMs: 0, changesAtMs: Infinity })
  assert.deepEqual(summarizePage(undated, week, NOW), { version: undefined, lastUploadMs: 0, changesAtMs: Infinity })
})
