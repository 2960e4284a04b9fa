// Password files for tests: entries made once with Debian's htpasswd (apache2-utils 2.4), so
// the tests check eggserve against the real tool's output without needing it installed.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A user, the password, and the htpasswd line for it. */
export interface TestUser {
  readonly user: string
  readonly password: string
  readonly line: string
}

/** `htpasswd -nbB -C 5 alice wonderland` (bcrypt; cost 5 is htpasswd's default). */
export const ALICE: TestUser = {
  user: 'alice',
  password: 'wonderland',
  line: 'alice:$2y$05$7Le.8/xKb/.CJnZ0bV945ORIcrnXJW03W/kFYEwO5KrodOx4lIzN.',
}
/** `htpasswd -nbm bob builder` (Apache MD5, weak). */
export const BOB: TestUser = { user: 'bob', password: 'builder', line: 'bob:$apr1$vpZMwqHf$CqO0QvORD5fnI8vVVl30c0' }
/** `htpasswd -nbs carol 'sha-1 pass'` ({SHA}, weak). */
export const CAROL: TestUser = {
  user: 'carol',
  password: 'sha-1 pass',
  line: 'carol:{SHA}/coNLOaUfL/A0HtpmqdOCJv5BU4=',
}
/** `htpasswd -nbB -C 5 dora 'Grüße'` (bcrypt of a non-ASCII password, hashed as UTF-8). */
export const DORA: TestUser = {
  user: 'dora',
  password: 'Grüße',
  line: 'dora:$2y$05$aSrGUfiDGAe3SVuPBOsdGeTWxhPBlawjF0q2gXSj9jDtPfYAuzehm',
}

/** Write an htpasswd file of `users` into `dir`; returns its path. */
export async function writePasswords(dir: string, users: readonly TestUser[], name = 'htpasswd'): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, users.map((user) => `${user.line}\n`).join(''))
  return path
}

/** The Authorization header of `user` (or of any name and password). */
export function basic(user: { readonly user: string; readonly password: string }): string {
  return `Basic ${Buffer.from(`${user.user}:${user.password}`, 'utf8').toString('base64')}`
}
