// HTML that is escaped by default: every interpolation is text unless explicitly marked safe.

/** A fragment of markup that is already safe to emit. */
export class SafeHtml {
  readonly value: string

  constructor(value: string) {
    this.value = value
  }

  toString(): string {
    return this.value
  }
}

/** Values an `html` template accepts. */
export type HtmlValue = string | number | SafeHtml | readonly HtmlValue[]

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/**
 * Escape text for use in element content and in quoted attribute values
 * (the HTML standard's escaping of text and attribute values: `&`, `<`, `>`, `"` must be encoded; `'` too, for single-quoted attributes).
 * @example escapeHtml('>=3.8,<4') // '&gt;=3.8,&lt;4'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char)
}

/** Tagged template: strings and numbers are escaped, SafeHtml is inserted as is, arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? ''
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '')
  })
  return new SafeHtml(out)
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return escapeHtml(value)
  return value.map(render).join('')
}
