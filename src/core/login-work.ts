// What one login costs, made the same whoever logs in (pure). A login's response time must not
// tell whether the user exists or which scheme its hash uses, so every login of a file runs
// the same checks: bcrypt work of 2^(the file's highest cost) rounds, one $apr1$ check if the
// file has such entries, and one {SHA} check if it has those. The user's own hash takes the
// place of the decoy of its scheme; an unknown user is checked against decoys only.
import type { HashScheme, PasswordEntry } from './htpasswd.js'

/** The checks of one login. */
export interface LoginWork {
  /**
   * Compare with `hash`, then hash the password once more at each of `padCosts` (the result is
   * thrown away), so that a hash cheaper than the file's costliest takes as long.
   */
  readonly bcrypt?: { readonly hash: string; readonly padCosts: readonly number[] }
  readonly apr1?: string
  readonly sha1?: string
}

/** One hash of each scheme a file holds (its costliest bcrypt hash), to check unknown users against. */
export type Decoys = Readonly<Partial<Record<HashScheme, PasswordEntry>>>

/**
 * The cost of a bcrypt hash: 2^cost rounds of key expansion.
 * @example bcryptCost('$2y$10$...') // 10
 */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6))
}

/** The decoys of a file's entries: the first of each scheme, and for bcrypt the one of highest cost. */
export function decoysOf(entries: readonly PasswordEntry[]): Decoys {
  const decoys: Partial<Record<HashScheme, PasswordEntry>> = {}
  for (const entry of entries) {
    const known = decoys[entry.scheme]
    if (known === undefined || (entry.scheme === 'bcrypt' && bcryptCost(entry.hash) > bcryptCost(known.hash))) {
      decoys[entry.scheme] = entry
    }
  }
  return decoys
}

/**
 * The checks a login of `entry` (undefined: an unknown user) runs. Rounds add up exactly:
 * a hash of cost c < m is padded with costs c, c+1, ..., m-1, and 2^c + (2^c + ... + 2^(m-1)) = 2^m.
 * @example loginWork(decoysOf(entries), undefined).bcrypt?.hash // the costliest bcrypt hash
 */
export function loginWork(decoys: Decoys, entry: PasswordEntry | undefined): LoginWork {
  const own = (scheme: HashScheme): string | undefined => (entry?.scheme === scheme ? entry.hash : decoys[scheme]?.hash)
  const costliest = decoys.bcrypt
  const apr1 = own('apr1')
  const sha1 = own('sha1')
  let bcrypt: LoginWork['bcrypt']
  if (costliest !== undefined) {
    const hash = own('bcrypt') ?? costliest.hash
    const top = bcryptCost(costliest.hash)
    const padCosts: number[] = []
    for (let cost = bcryptCost(hash); cost < top; cost++) padCosts.push(cost)
    bcrypt = { hash, padCosts }
  }
  return {
    ...(bcrypt === undefined ? {} : { bcrypt }),
    ...(apr1 === undefined ? {} : { apr1 }),
    ...(sha1 === undefined ? {} : { sha1 }),
  }
}
