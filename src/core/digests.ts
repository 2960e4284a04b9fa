// Hash algorithms eggserve computes and emits.

/** Algorithms accepted for the link fragment (`--hash-algo`): all known to pip, uv, poetry, pdm and easy_install. */
export const ANCHOR_ALGORITHMS = ['md5', 'sha256', 'sha384', 'sha512'] as const

/** An algorithm from ANCHOR_ALGORITHMS. */
export type HashAlgorithm = (typeof ANCHOR_ALGORITHMS)[number]

/** Hex digests of one file, by algorithm. */
export type Digests = Readonly<Partial<Record<HashAlgorithm, string>>>

/** True when `value` names a supported anchor algorithm. */
export function isHashAlgorithm(value: string): value is HashAlgorithm {
  return (ANCHOR_ALGORITHMS as readonly string[]).includes(value)
}

/**
 * The algorithms to compute in the single read of each file: md5 and sha256 always (the JSON
 * API carries both), plus the anchor algorithms (one per tree) when they are others.
 * @example algorithmsFor('md5', 'sha512') // ['md5', 'sha256', 'sha512']
 */
export function algorithmsFor(...anchors: readonly HashAlgorithm[]): readonly HashAlgorithm[] {
  return [...new Set<HashAlgorithm>(['md5', 'sha256', ...anchors])]
}
