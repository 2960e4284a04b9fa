// Multipart bodies that are cut off or malformed, for the tests that an upload API must answer
// them with a 400 and go on serving (inject and real-socket tests share them).
import { noise } from './test-bytes.js'

/** A body sent as is, with the Content-Type it claims, and what the 400's body must match. */
export interface MalformedForm {
  readonly title: string
  readonly body: Buffer
  readonly contentType: string
  readonly reason: RegExp
}

const B = 'multipart/form-data; boundary=B'
const crlf = (lines: readonly string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1')

/**
 * The body from the report that killed the server: three fields, then a file part that is never
 * closed (no final boundary), sent with a correct Content-Length.
 */
/** The form fields before the file part: the action, the name and the version. */
const FIELDS = [
  '--B',
  'Content-Disposition: form-data; name=":action"',
  '',
  'file_upload',
  '--B',
  'Content-Disposition: form-data; name="name"',
  '',
  'x',
  '--B',
  'Content-Disposition: form-data; name="version"',
  '',
  '1.0',
]

export const ISSUE_BODY: MalformedForm = {
  title: 'the file part is never closed',
  contentType: B,
  reason: /^Malformed multipart form: /,
  body: crlf([
    ...FIELDS,
    '--B',
    'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"',
    '',
    'hello',
    '',
  ]),
}

/** Bodies that are wrong in other ways than being cut off (each one a 400). */
export const MALFORMED_FORMS: readonly MalformedForm[] = [
  ISSUE_BODY,
  {
    title: 'no boundary in the Content-Type',
    contentType: 'multipart/form-data',
    reason: /no boundary/,
    body: crlf([...FIELDS, '--B--', '']),
  },
  {
    title: 'an empty boundary',
    contentType: 'multipart/form-data; boundary=""',
    reason: /^Malformed multipart form/,
    body: crlf([...FIELDS, '--B--', '']),
  },
  {
    title: 'a boundary the body never uses',
    contentType: 'multipart/form-data; boundary=C',
    reason: /^Malformed multipart form: /,
    body: crlf([...FIELDS, '--B--', '']),
  },
  { title: 'an empty body', contentType: B, reason: /^Malformed multipart form: /, body: Buffer.alloc(0) },
  {
    title: 'nothing but the closing delimiter',
    contentType: B,
    reason: /^Missing :action field$/,
    body: crlf(['--B--', '']),
  },
  {
    title: "the file part's header block never ends",
    contentType: B,
    reason: /^Malformed multipart form: /,
    body: crlf([
      ...FIELDS,
      '--B',
      'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"',
      'Content-Type: application/octet-stream',
    ]),
  },
  {
    title: 'a part header of 100 KiB',
    contentType: B,
    reason: /^Malformed multipart form: |^Upload payload does not have a file\.$/,
    body: crlf([
      ...FIELDS,
      '--B',
      `X-Padding: ${'a'.repeat(100 * 1024)}`,
      'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"',
      '',
      'hello',
      '--B--',
      '',
    ]),
  },
  {
    title: 'a file part without Content-Disposition',
    contentType: B,
    reason: /^Upload payload does not have a file\.$/,
    body: crlf([...FIELDS, '--B', 'Content-Type: application/octet-stream', '', 'hello', '--B--', '']),
  },
  {
    // Read as setuptools' upload_docs sends them; "hello" is no .tar.gz.
    title: 'bare LF line ends, and a file that is no archive',
    contentType: B,
    reason: /^Invalid distribution file: /,
    body: Buffer.from(
      [
        ...FIELDS,
        '--B',
        'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"',
        '',
        'hello',
        '--B--',
        '',
      ].join('\n'),
    ),
  },
  {
    title: "binary noise after a file part's header, never closed",
    contentType: B,
    reason: /^Malformed multipart form: /,
    body: Buffer.concat([
      crlf([...FIELDS, '--B', 'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"', '', '']),
      noise(64 * 1024, 7),
    ]),
  },
  {
    title: 'a signature part cut off',
    contentType: B,
    reason: /^Malformed multipart form: /,
    body: crlf([
      ...FIELDS,
      '--B',
      'Content-Disposition: form-data; name="gpg_signature"; filename="x-1.0.tar.gz.asc"',
      '',
      '-----BEGIN PGP',
    ]),
  },
  {
    title: 'an unknown file part cut off',
    contentType: B,
    reason: /^Malformed multipart form: /,
    body: crlf([
      ...FIELDS,
      '--B',
      'Content-Disposition: form-data; name="other"; filename="notes.txt"',
      '',
      'some notes',
    ]),
  },
  {
    title: 'a second content part cut off',
    contentType: B,
    reason: /^Only one file may be uploaded|^Malformed multipart form: /,
    body: crlf([
      ...FIELDS,
      '--B',
      'Content-Disposition: form-data; name="content"; filename="x-1.0.tar.gz"',
      '',
      'hello',
      '--B',
      'Content-Disposition: form-data; name="content"; filename="x-1.0.zip"',
      '',
      'again',
    ]),
  },
]

/**
 * Where to cut a complete multipart body: at every byte. Cuts from `closed` on keep the whole
 * closing delimiter (`--boundary--`) and lose only its CRLF, so the form is still complete.
 */
export function cutFormCases(body: Buffer): { cuts: number[]; closed: number } {
  if (!body.subarray(-4).equals(Buffer.from('--\r\n'))) throw new Error('not a complete multipart body')
  return { cuts: Array.from({ length: body.length }, (_, i) => i), closed: body.length - 2 }
}
