// The layer map of docs/architecture.md, enforced: a module may import from its own floor's
// folder and from the floors below it, never from a floor above. A type-only import counts too,
// because it couples the lower floor to the upper one's shape just the same.

/** Floors from the bottom up: each entry is [element type, folder or file patterns]. */
export const FLOORS = [
  ['platform', ['src/platform/**']],
  ['core', ['src/core/**', 'src/errors.ts', 'src/error-codes.ts']],
  ['render', ['src/render/**']],
  ['storage', ['src/storage/**']],
  ['archives', ['src/archives/**']],
  ['file-facts', ['src/file-facts/**']],
  ['readme', ['src/readme/**']],
  ['live-index', ['src/live-index/**']],
  ['upstream', ['src/upstream/**']],
  ['auth', ['src/auth/**']],
  ['upload', ['src/upload/**']],
  ['http', ['src/http/**']],
  [
    'app',
    [
      'src/app.ts',
      'src/services.ts',
      'src/daemon.ts',
      'src/daemon/**',
      'src/logger.ts',
      'src/config.ts',
      'src/proxy-settings.ts',
      'src/metrics/**',
    ],
  ],
  ['cli', ['src/cli.ts', 'src/commands/**']],
]

/** The floors under `floor`, bottom first. */
function floorsBelow(floor) {
  return FLOORS.slice(
    0,
    FLOORS.findIndex(([type]) => type === floor),
  ).map(([type]) => type)
}

/** What each floor may import besides itself: the floors below it that it has a use for. */
export const MAY_IMPORT = {
  platform: [],
  core: [],
  render: ['core'],
  storage: ['core', 'platform'],
  archives: ['core', 'storage'],
  'file-facts': ['core', 'platform', 'storage', 'archives'],
  readme: ['core', 'platform', 'render'],
  'live-index': ['core', 'storage', 'archives', 'file-facts'],
  upstream: ['core', 'storage', 'live-index'],
  auth: ['core'],
  upload: ['core', 'storage', 'archives', 'file-facts', 'live-index'],
  http: ['core', 'render', 'storage', 'archives', 'file-facts', 'readme', 'live-index', 'upstream', 'auth', 'upload'],
  // The two top floors may use every floor below them: no list to keep in step by hand.
  app: [...floorsBelow('app'), 'app'],
  cli: [...floorsBelow('cli'), 'cli'],
}
