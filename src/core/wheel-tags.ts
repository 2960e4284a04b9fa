// A wheel's compatibility tags (the "Platform compatibility tags" specification, PEP 425,
// PEP 600 and PEP 656 for manylinux and musllinux), decoded into words for people.

/** What a wheel's filename says it runs on. */
export interface WheelTags {
  /** e.g. ['CPython 3.12'], ['Python 2', 'Python 3']. */
  readonly python: readonly string[]
  /** e.g. ['none'], ['stable ABI (abi3)'], ['CPython 3.12']. */
  readonly abi: readonly string[]
  /** e.g. ['any'], ['Linux x86-64, glibc 2.17+ (manylinux)']. */
  readonly platform: readonly string[]
}

const IMPLEMENTATIONS: Readonly<Record<string, string>> = {
  py: 'Python',
  cp: 'CPython',
  pp: 'PyPy',
  ip: 'IronPython',
  jy: 'Jython',
  gp: 'GraalPy',
}

const ARCHITECTURES: Readonly<Record<string, string>> = {
  x86_64: 'x86-64',
  amd64: 'x86-64',
  i686: 'x86',
  win32: 'x86',
  aarch64: 'ARM64',
  arm64: 'ARM64',
  armv7l: 'ARMv7',
  ppc64le: 'POWER little-endian',
  s390x: 'IBM Z',
  universal2: 'universal (x86-64 and ARM64)',
}

/**
 * Decode the last three dash-separated parts of a wheel filename, each possibly a compressed
 * tag set (`py2.py3`). Undefined for anything that is not a wheel filename.
 * @example decodeWheelTags('foo-1.0-cp312-abi3-win_amd64.whl')?.platform // ['Windows x86-64']
 */
export function decodeWheelTags(filename: string): WheelTags | undefined {
  if (!filename.endsWith('.whl')) return undefined
  const parts = filename.slice(0, -4).split('-')
  if (parts.length !== 5 && parts.length !== 6) return undefined
  const [python = '', abi = '', platform = ''] = parts.slice(-3)
  return {
    python: unique(python.split('.').map(pythonTag)),
    abi: unique(abi.split('.').map(abiTag)),
    platform: unique(platform.split('.').map(platformTag)),
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}

// PEP 425: an implementation abbreviation followed by the version's digits (major, then minor).
function pythonTag(tag: string): string {
  const match = /^([a-z]+)(\d)(\d*)$/.exec(tag)
  const name = match === null ? undefined : IMPLEMENTATIONS[match[1] ?? '']
  if (match === null || name === undefined) return tag
  return match[3] === '' ? `${name} ${match[2] ?? ''}` : `${name} ${match[2] ?? ''}.${match[3] ?? ''}`
}

function abiTag(tag: string): string {
  if (tag === 'none') return 'none'
  if (tag === 'abi3') return 'stable ABI (abi3)'
  // PEP 425 ABI tags such as cp39, cp37m, cp313t (free-threaded).
  const match = /^cp(\d)(\d+)([dmtu]*)$/.exec(tag)
  if (match === null) return tag
  const flags = match[3] ?? ''
  const notes = [flags.includes('t') ? 'free-threaded' : '', flags.includes('d') ? 'debug' : ''].filter(
    (note) => note !== '',
  )
  return `CPython ${match[1] ?? ''}.${match[2] ?? ''}${notes.length === 0 ? '' : ` (${notes.join(', ')})`}`
}

function architecture(arch: string): string {
  return ARCHITECTURES[arch] ?? arch
}

function platformTag(tag: string): string {
  if (tag === 'any') return 'any'
  if (tag === 'win32') return 'Windows x86'
  let match = /^win_(.+)$/.exec(tag)
  if (match !== null) return `Windows ${architecture(match[1] ?? '')}`
  // PEP 600: manylinux_<glibc major>_<glibc minor>_<arch>; PEP 656: musllinux_<major>_<minor>_<arch>.
  match = /^(manylinux|musllinux)_(\d+)_(\d+)_(.+)$/.exec(tag)
  if (match !== null) {
    const libc = match[1] === 'manylinux' ? 'glibc' : 'musl'
    return `Linux ${architecture(match[4] ?? '')}, ${libc} ${match[2] ?? ''}.${match[3] ?? ''}+ (${match[1] ?? ''})`
  }
  // The legacy aliases of PEP 513, 571 and 599.
  const legacy: Readonly<Record<string, string>> = { manylinux1: '2.5', manylinux2010: '2.12', manylinux2014: '2.17' }
  match = /^(manylinux1|manylinux2010|manylinux2014)_(.+)$/.exec(tag)
  if (match !== null)
    return `Linux ${architecture(match[2] ?? '')}, glibc ${legacy[match[1] ?? ''] ?? '?'}+ (manylinux)`
  match = /^macosx_(\d+)_(\d+)_(.+)$/.exec(tag)
  if (match !== null) return `macOS ${match[1] ?? ''}.${match[2] ?? ''}+ ${architecture(match[3] ?? '')}`
  match = /^linux_(.+)$/.exec(tag)
  if (match !== null) return `Linux ${architecture(match[1] ?? '')} (not portable)`
  return tag
}
