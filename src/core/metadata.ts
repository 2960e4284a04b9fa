// Core metadata files (PKG-INFO, METADATA): the "Core metadata specifications" spec, read as
// pip and packaging.metadata read them, with Python's email.parser and the compat32 policy.

/** A parsed core metadata file. */
export interface CoreMetadata {
  /** Every header, keys lowercased, values in order; multiple-use fields repeat. */
  readonly fields: ReadonlyMap<string, readonly string[]>
  /** The message body (Metadata-Version >= 2.1 puts the description here), or undefined. */
  readonly body: string | undefined
  /** The first value of header `name` (case-insensitive), or undefined. */
  get(name: string): string | undefined
  /** Every value of header `name` (case-insensitive), in order. */
  getAll(name: string): readonly string[]
}

// email.feedparser's headerRE: a field name is printable ASCII but the colon, without spaces
// (RFC 5322 §2.2); a line starting with a space or a tab continues the previous field (§2.2.3).
const FIELD_LINE = /^([\x21-\x39\x3b-\x7e]*):/
const CONTINUATION_LINE = /^[ \t]/
// email.feedparser's NLCRE: CRLF, CR and LF all end a line.
const LINE_END = /\r\n|\r|\n/g

const NO_VALUES: readonly string[] = Object.freeze([])

// Core metadata spec: UTF-8; older files written by distutils may be latin-1, which
// decodes any byte sequence. The BOM is kept, as in Python, so a BOM-prefixed file has no fields.
function decode(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    // Not TextDecoder('latin1'): the Encoding Standard maps that label to windows-1252.
    let text = ''
    for (let start = 0; start < bytes.length; start += 8192) {
      text += String.fromCharCode(...bytes.subarray(start, start + 8192))
    }
    return text
  }
}

function asciiLower(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => letter.toLowerCase())
}

/**
 * Parse a core metadata file: its header fields and its body. Folded values keep their line
 * breaks (as `\n`) and continuation indentation: the spec's Description folding is not undone.
 * @example parseCoreMetadata(new TextEncoder().encode('Name: demo\n\nHello')).get('NAME') // 'demo'
 */
export function parseCoreMetadata(bytes: Uint8Array): CoreMetadata {
  const text = decode(bytes)
  const fields = new Map<string, string[]>()
  let current: { name: string; lines: string[] } | undefined
  const commit = (): void => {
    if (current === undefined) return
    // compat32's header_source_parse strips only the line end; we also drop trailing blanks.
    const value = current.lines.join('\n').replace(/[ \t\n]+$/, '')
    const values = fields.get(current.name)
    if (values === undefined) fields.set(current.name, [value])
    else values.push(value)
    current = undefined
  }

  let body: string | undefined
  let position = 0
  while (position < text.length) {
    LINE_END.lastIndex = position
    const end = LINE_END.exec(text)
    const line = text.slice(position, end?.index ?? text.length)
    const next = end === null ? text.length : end.index + end[0].length
    if (CONTINUATION_LINE.test(line)) {
      // A continuation with no field to continue is a defect email.parser drops.
      current?.lines.push(line)
    } else {
      const field = FIELD_LINE.exec(line)
      if (field === null) {
        // The empty line separates the body. Any other line is a defect for email.parser,
        // which ends the headers there and keeps that line as the start of the body.
        body = text.slice(line === '' ? next : position)
        break
      }
      commit()
      const name = field[1] ?? ''
      // email.parser drops a field with an empty name (and its continuation lines).
      if (name !== '') current = { name: asciiLower(name), lines: [line.slice(field[0].length).replace(/^[ \t]+/, '')] }
    }
    position = next
  }
  commit()

  return {
    fields,
    // packaging.metadata ignores an empty payload, so an empty body is no body.
    body: body === '' ? undefined : body,
    get: (name) => fields.get(asciiLower(name))?.[0],
    getAll: (name) => fields.get(asciiLower(name)) ?? NO_VALUES,
  }
}
