// Content negotiation for /simple/ (PEP 691 and the Simple Repository API's "Version + Format
// Selection"; RFC 9110 §12.5.1; the rules and each client's string: docs/http.md, "What clients
// send in Accept") and gzip choice (RFC 9110 §12.5.3).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  acceptsGzip,
  negotiateSimple,
  SIMPLE_MEDIA_TYPES,
  TEXT_HTML,
  V1_HTML,
  V1_JSON,
  type SimpleMediaType,
} from '../../src/core/negotiation.js'

/** An expected outcome: a concrete type, or 406. */
type Expected = SimpleMediaType | 406

// Literal Accept strings of real clients (docs/http.md, "What clients send in Accept").
const PIP_OLD = 'text/html'
const PIP_NEW = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
const UV = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'
const POETRY = 'application/vnd.pypi.simple.v1+json, */*;q=0.1'
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

function check(actual: ReturnType<typeof negotiateSimple>, expected: Expected): void {
  if (expected === 406) {
    assert.equal(actual.ok, false, `expected 406, got ${JSON.stringify(actual)}`)
    // The 406 body must list the supported types (as for `application/json` alone).
    for (const type of SIMPLE_MEDIA_TYPES)
      assert.ok(actual.reason.includes(type), `reason lacks ${type}: ${actual.reason}`)
  } else {
    assert.deepEqual(actual, { ok: true, type: expected })
  }
}

await test('constants', () => {
  assert.equal(TEXT_HTML, 'text/html')
  assert.equal(V1_HTML, 'application/vnd.pypi.simple.v1+html')
  assert.equal(V1_JSON, 'application/vnd.pypi.simple.v1+json')
  // PyPI's server order (Warehouse's simple.py), all lowercase (uv compares the type byte for byte).
  assert.deepEqual(SIMPLE_MEDIA_TYPES, [TEXT_HTML, V1_HTML, V1_JSON])
  assert.ok(Object.isFrozen(SIMPLE_MEDIA_TYPES))
})

await test('negotiateSimple: Accept', async (t) => {
  const cases: readonly (readonly [string, string | undefined, Expected])[] = [
    // The specification's recommendations, with the clients' own strings.
    ['no Accept', undefined, TEXT_HTML],
    ['*/*', '*/*', TEXT_HTML],
    ['text/html', 'text/html', TEXT_HTML],
    ['text/*', 'text/*', TEXT_HTML],
    ['application/*', 'application/*', V1_HTML],
    ['pip 22.2+ string', PIP_NEW, V1_JSON],
    ['uv string', UV, V1_JSON],
    ['poetry string', POETRY, V1_JSON],
    ['v1+html', 'application/vnd.pypi.simple.v1+html', V1_HTML],
    [
      'v1+json;q=0.5 loses to v1+html',
      'application/vnd.pypi.simple.v1+json;q=0.5, application/vnd.pypi.simple.v1+html',
      V1_HTML,
    ],
    ['v1+json;q=0 excluded', 'application/vnd.pypi.simple.v1+json;q=0, text/html', TEXT_HTML],
    ['latest+json alias', 'application/vnd.pypi.simple.latest+json', V1_JSON],
    ['browser string', BROWSER, TEXT_HTML],
    ['application/json only', 'application/json', 406],

    // Each client's string, literally.
    ['pip 18 – 22.1', PIP_OLD, TEXT_HTML],
    ['pip 22.2 – 26', PIP_NEW, V1_JSON],
    ['uv', UV, V1_JSON],
    ['uv --find-links page', 'text/html', TEXT_HTML],
    ['poetry', POETRY, V1_JSON],
    ['pdm / unearth (pip string)', PIP_NEW, V1_JSON],
    ['renovate (pip string)', PIP_NEW, V1_JSON],
    ['renovate retry after 406 (no Accept)', undefined, TEXT_HTML],
    ['easy_install (no Accept)', undefined, TEXT_HTML],
    ['browser', BROWSER, TEXT_HTML],

    // A missing or empty Accept means */* (RFC 9110 §12.5.1).
    ['empty Accept', '', TEXT_HTML],
    ['whitespace-only Accept', '   ', TEXT_HTML],
    ['Accept of empty list elements only (RFC 9110 §5.6.1.2)', ' , ,', TEXT_HTML],

    // Type, subtype and parameter names are case-insensitive (RFC 9110 §8.3.1, §5.6.6).
    ['case variant of v1+json', 'Application/VND.PyPI.Simple.V1+JSON', V1_JSON],
    ['case variant of v1+html', 'APPLICATION/VND.PYPI.SIMPLE.V1+HTML', V1_HTML],
    ['case variant of text/html', 'Text/HTML', TEXT_HTML],
    ['case variant of latest+html', 'application/vnd.pypi.simple.LATEST+html', V1_HTML],
    ['upper-case Q parameter', 'application/vnd.pypi.simple.v1+json;Q=0.1, text/html;Q=0.5', TEXT_HTML],
    ['upper-case wildcard type', 'APPLICATION/*', V1_HTML],

    // Whitespace around `,`, `;` and `=` (RFC 9110 §5.6.1, §5.6.6; pip sends `; q=0.1`).
    [
      'no spaces at all',
      'application/vnd.pypi.simple.v1+json,application/vnd.pypi.simple.v1+html;q=0.1,text/html;q=0.01',
      V1_JSON,
    ],
    ['space before ;', 'application/vnd.pypi.simple.v1+json ;q=0.01, text/html', TEXT_HTML],
    ['spaces around ; and =', 'application/vnd.pypi.simple.v1+json ; q = 0.01 , text/html ; q = 0.5', TEXT_HTML],
    ['tabs as whitespace', 'text/html;\tq=0.5,\tapplication/vnd.pypi.simple.v1+html;\tq=0.6', V1_HTML],
    ['leading and trailing whitespace', '  application/vnd.pypi.simple.v1+json  ', V1_JSON],
    ['empty element between entries', 'text/html;q=0.5,,application/vnd.pypi.simple.v1+html', V1_HTML],
    ['trailing comma', 'application/vnd.pypi.simple.v1+json,', V1_JSON],
    ['empty parameter (RFC 9110 §5.6.6)', 'application/vnd.pypi.simple.v1+json;', V1_JSON],

    // q values: [0, 1], at most 3 decimals (RFC 9110 §12.4.2).
    ['q=0.000 is q=0', 'application/vnd.pypi.simple.v1+json;q=0.000, text/html;q=0.001', TEXT_HTML],
    ['q=0.000 alone is 406', 'application/vnd.pypi.simple.v1+json;q=0.000', 406],
    ['q=1.000 is q=1', 'text/html;q=0.999, application/vnd.pypi.simple.v1+html;q=1.000', V1_HTML],
    ['q=1. is valid (qvalue grammar)', 'text/html;q=0.5, application/vnd.pypi.simple.v1+html;q=1.', V1_HTML],
    ['q=0. is valid and means 0', 'application/vnd.pypi.simple.v1+json;q=0., text/html;q=0.1', TEXT_HTML],
    [
      'q=1.0001 invalid: entry ignored, not the header',
      'text/html;q=1.0001, application/vnd.pypi.simple.v1+html;q=0.5',
      V1_HTML,
    ],
    ['q=1.0001 alone: nothing acceptable', 'text/html;q=1.0001', 406],
    ['q=0.5000 (4 decimals) ignored', 'application/vnd.pypi.simple.v1+json;q=0.5000, text/html;q=0.1', TEXT_HTML],
    ['q=1.5 ignored', 'application/vnd.pypi.simple.v1+json;q=1.5, text/html;q=0.1', TEXT_HTML],
    ['q=abc ignored', 'application/vnd.pypi.simple.v1+json;q=abc, text/html;q=0.1', TEXT_HTML],
    ['q=-0.5 ignored', 'application/vnd.pypi.simple.v1+json;q=-0.5, text/html;q=0.1', TEXT_HTML],
    ['q=.5 ignored', 'application/vnd.pypi.simple.v1+json;q=.5, text/html;q=0.1', TEXT_HTML],
    ['empty q ignored', 'application/vnd.pypi.simple.v1+json;q=, text/html;q=0.1', TEXT_HTML],
    ['quoted q ignored', 'application/vnd.pypi.simple.v1+json;q="0.5", text/html;q=0.1', TEXT_HTML],
    ['two q parameters ignored', 'application/vnd.pypi.simple.v1+json;q=0.5;q=0.6, text/html;q=0.1', TEXT_HTML],
    ['small q still acceptable', 'application/vnd.pypi.simple.v1+json;q=0.001', V1_JSON],

    // Malformed entries are skipped, not fatal.
    ['garbage entry skipped', 'garbage, application/vnd.pypi.simple.v1+json', V1_JSON],
    ['missing subtype skipped', 'text/, application/vnd.pypi.simple.v1+html', V1_HTML],
    ['*/subtype is not a media range', '*/html, application/vnd.pypi.simple.v1+html;q=0.5', V1_HTML],
    ['space inside the type skipped', 'text / html, application/vnd.pypi.simple.v1+html;q=0.5', V1_HTML],
    ['parameter without value skipped', 'text/html;level, application/vnd.pypi.simple.v1+html;q=0.5', V1_HTML],
    [
      'unbalanced quote swallows the rest of the header',
      'text/html;x="a, application/vnd.pypi.simple.v1+html;q=0.5',
      406,
    ],
    ['only garbage: nothing acceptable', 'garbage', 406],
    ['only semicolons: nothing acceptable', ';;;', 406],

    // Order is not a preference signal (RFC 9110 §12.5.1).
    [
      'html first, json second, equal q',
      'application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json',
      V1_JSON,
    ],
    [
      'json first, html second, equal q',
      'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html',
      V1_JSON,
    ],
    [
      'pip string reversed',
      'text/html; q=0.01, application/vnd.pypi.simple.v1+html; q=0.1, application/vnd.pypi.simple.v1+json',
      V1_JSON,
    ],
    ['poetry string reversed', '*/*;q=0.1, application/vnd.pypi.simple.v1+json', V1_JSON],
    ['text/html before v1+html, equal q', 'text/html, application/vnd.pypi.simple.v1+html', V1_HTML],

    // The most specific range wins, and its q counts even when lower (RFC 9110 §12.5.1).
    ['exact q=0 overrides */*', 'application/vnd.pypi.simple.v1+json;q=0, */*', TEXT_HTML],
    ['text/html;q=0 with */* gives v1+html', 'text/html;q=0, */*', V1_HTML],
    ['exact lower q overrides type/*', 'application/*;q=0.9, application/vnd.pypi.simple.v1+json;q=0.1', V1_HTML],
    ['type/* q=0 overrides */*', 'application/*;q=0, */*', TEXT_HTML],
    ['text/*;q=0 with */*', 'text/*;q=0, */*;q=0.5', V1_HTML],
    ['*/*;q=0 alone', '*/*;q=0', 406],
    ['everything refused', 'text/html;q=0, application/*;q=0', 406],
    ['higher wildcard q beats a named type', '*/*;q=0.5, application/vnd.pypi.simple.v1+json;q=0.1', TEXT_HTML],
    ['type/* q=1 beats named text/html at 0.5', 'text/html;q=0.5, application/*', V1_HTML],
    [
      'duplicate range: most generous q',
      'application/vnd.pypi.simple.v1+json;q=0, application/vnd.pypi.simple.v1+json;q=0.5',
      V1_JSON,
    ],

    // Tie-breaking: named offers JSON > v1+html > text/html; wildcard-only ties in PyPI order.
    [
      'named tie of all three',
      'text/html, application/vnd.pypi.simple.v1+html, application/vnd.pypi.simple.v1+json',
      V1_JSON,
    ],
    ['named tie of html types', 'text/html;q=0.3, application/vnd.pypi.simple.v1+html;q=0.3', V1_HTML],
    ['named text/html ties with wildcard', 'text/html, */*', TEXT_HTML],
    ['named v1+html ties with wildcard json', 'application/vnd.pypi.simple.v1+html, application/*', V1_HTML],
    ['named json ties with text/*', 'text/*;q=0.5, application/vnd.pypi.simple.v1+json;q=0.5', V1_JSON],
    ['wildcard-only tie: text/html first', 'text/*, application/*', TEXT_HTML],
    ['wildcard-only low q', '*/*;q=0.1', TEXT_HTML],
    ['application/* when text/html refused', 'text/html;q=0, application/*', V1_HTML],
    ['the browser prefers XHTML, not ours: still text/html', 'application/xhtml+xml, text/html;q=0.9', TEXT_HTML],

    // latest aliases (the response carries the concrete v1 type).
    ['latest+html alias', 'application/vnd.pypi.simple.latest+html', V1_HTML],
    [
      'latest+json with html fallback',
      'application/vnd.pypi.simple.latest+json, application/vnd.pypi.simple.latest+html;q=0.1',
      V1_JSON,
    ],
    ['latest+json refused, v1+html fine', 'application/vnd.pypi.simple.latest+json;q=0, application/*', V1_HTML],
    ['unknown meta-version', 'application/vnd.pypi.simple.v2+json', 406],
    ['unknown meta-version with html fallback', 'application/vnd.pypi.simple.v2+json, text/html;q=0.1', TEXT_HTML],

    // Media type parameters narrow a range (RFC 9110 §12.5.1); pages are always UTF-8.
    ['charset=utf-8 matches', 'application/vnd.pypi.simple.v1+json; charset=utf-8', V1_JSON],
    ['charset="UTF-8" quoted matches', 'application/vnd.pypi.simple.v1+json;charset="UTF-8"', V1_JSON],
    ['other charset does not match', 'application/vnd.pypi.simple.v1+json;charset=latin1, text/html;q=0.1', TEXT_HTML],
    ['unknown parameter does not match', 'text/html;level=1', 406],
    [
      'parameterised range more specific than bare one',
      'text/html;q=0.1, text/html;charset=utf-8;q=0.9, application/vnd.pypi.simple.v1+html;q=0.5',
      TEXT_HTML,
    ],
    [
      'quoted comma inside a parameter',
      'text/html;foo="a,b";q=0.9, application/vnd.pypi.simple.v1+html;q=0.5',
      V1_HTML,
    ],
    [
      'parameters after q (RFC 7231 accept-ext) are ignored',
      'application/vnd.pypi.simple.v1+json;q=0.5;ext=1, text/html;q=0.1',
      V1_JSON,
    ],

    // Other types never match ours.
    ['application/json', 'application/json', 406],
    ['application/xhtml+xml', 'application/xhtml+xml', 406],
    ['image/*', 'image/*', 406],
    ['text/plain', 'text/plain', 406],
    ['application/json with */*;q=0.1', 'application/json, */*;q=0.1', TEXT_HTML],
  ]
  for (const [name, accept, expected] of cases) {
    await t.test(name, () => {
      check(negotiateSimple(accept, undefined), expected)
    })
  }
})

await test('negotiateSimple: ?format= (the specification\'s "URL Parameter")', async (t) => {
  const cases: readonly (readonly [string, string, string | undefined, Expected])[] = [
    ['JSON overrides Accept text/html', 'application/vnd.pypi.simple.v1+json', 'text/html', V1_JSON],
    ['v1+html', 'application/vnd.pypi.simple.v1+html', undefined, V1_HTML],
    ['text/html overrides the pip string', 'text/html', PIP_NEW, TEXT_HTML],
    ['latest+json alias', 'application/vnd.pypi.simple.latest+json', undefined, V1_JSON],
    ['latest+html alias', 'application/vnd.pypi.simple.latest+html', 'application/vnd.pypi.simple.v1+json', V1_HTML],
    ['case-insensitive', 'Application/VND.PyPI.Simple.V1+JSON', undefined, V1_JSON],
    ['surrounding whitespace', ' text/html ', undefined, TEXT_HTML],
    ['+ decoded as a space by the query parser', 'application/vnd.pypi.simple.v1 json', undefined, V1_JSON],
    ['+ decoded as a space, latest+html', 'application/vnd.pypi.simple.latest html', undefined, V1_HTML],
    ['overrides an Accept that would be 406', 'text/html', 'application/json', TEXT_HTML],
    [
      'overrides Accept q=0 for the same type',
      'application/vnd.pypi.simple.v1+json',
      'application/vnd.pypi.simple.v1+json;q=0',
      V1_JSON,
    ],
    // Invalid values are 406 even when Accept would have been fine.
    ['wildcard */*', '*/*', 'text/html', 406],
    ['wildcard type/*', 'application/*', undefined, 406],
    ['wildcard text/*', 'text/*', undefined, 406],
    ['list', 'application/vnd.pypi.simple.v1+json, text/html', undefined, 406],
    ['list without spaces', 'application/vnd.pypi.simple.v1+json,text/html', undefined, 406],
    ['q-value', 'application/vnd.pypi.simple.v1+json;q=1', undefined, 406],
    ['parameter', 'text/html; charset=utf-8', undefined, 406],
    ['unknown type', 'application/json', 'text/html', 406],
    ['unknown meta-version', 'application/vnd.pypi.simple.v2+json', undefined, 406],
    ['short name', 'json', undefined, 406],
    ['empty', '', 'text/html', 406],
  ]
  for (const [name, format, accept, expected] of cases) {
    await t.test(name, () => {
      check(negotiateSimple(accept, format), expected)
    })
  }
})

await test('negotiateSimple: 406 reasons', async (t) => {
  const cases: readonly (readonly [string, string | undefined, string | undefined, RegExp])[] = [
    ['Accept quoted back', 'application/json', undefined, /Accept "application\/json"/],
    ['list', undefined, 'text/html,application/vnd.pypi.simple.v1+json', /not a list/],
    ['q-value', undefined, 'text/html;q=1', /without parameters or q-values/],
    ['wildcard', undefined, '*/*', /not a wildcard/],
    ['unknown', undefined, 'application/json', /unsupported media type: "application\/json"/],
    ['aliases mentioned', 'image/png', undefined, /latest\+html/],
    ['control characters escaped', undefined, 'text/x\nInjected: 1', /"text\/x\\nInjected: 1"/],
  ]
  for (const [name, accept, format, pattern] of cases) {
    await t.test(name, () => {
      const result = negotiateSimple(accept, format)
      assert.equal(result.ok, false)
      assert.match(result.reason, pattern)
      assert.ok(!result.reason.includes('\n'), 'a single line')
    })
  }
  await t.test('long values are truncated', () => {
    const result = negotiateSimple('x/'.padEnd(10_000, 'y'), undefined)
    assert.ok(!result.ok && result.reason.length < 600)
  })
})

await test('acceptsGzip (RFC 9110 §12.5.3)', async (t) => {
  const cases: readonly (readonly [string, string | undefined, boolean])[] = [
    ['pip: gzip, deflate', 'gzip, deflate', true],
    ['uv: gzip, deflate, zstd', 'gzip, deflate, zstd', true],
    ['uv --find-links: gzip', 'gzip', true],
    ['gzip;q=0', 'gzip;q=0', false],
    ['identity', 'identity', false],
    ['*', '*', true],
    ['*;q=0, gzip', '*;q=0, gzip', true],
    ['deflate', 'deflate', false],
    ['missing: send identity to clients that did not ask', undefined, false],
    ['empty: no coding wanted (RFC 9110 §12.5.3)', '', false],
    ['GZIP', 'GZIP', true],
    ['x-gzip (RFC 9110 §8.4.1.3)', 'x-gzip', true],
    ['X-GZip;q=0.5', 'X-GZip;q=0.5', true],
    ['identity;q=0 alone: gzip not listed', 'identity;q=0', false],
    ['identity;q=0, *', 'identity;q=0, *', true],
    ['identity;q=0, gzip', 'identity;q=0, gzip', true],
    ['*;q=0', '*;q=0', false],
    ['gzip;q=0, *', 'gzip;q=0, *', false],
    ['x-gzip;q=0 refuses gzip too', 'x-gzip;q=0, deflate', false],
    ['gzip;q=0.001', 'gzip;q=0.001', true],
    ['gzip;q=0.000', 'gzip;q=0.000', false],
    ['gzip;q=1.000', 'gzip;q=1.000', true],
    ['whitespace around ; and =', 'deflate , gzip ; q = 0.5', true],
    ['browser string', 'gzip, deflate, br, zstd', true],
    ['identity preferred over gzip', 'identity;q=1, gzip;q=0.5', false],
    ['gzip preferred over identity', 'gzip;q=1, identity;q=0.5', true],
    ['gzip ties identity', 'gzip;q=0.5, identity;q=0.5', true],
    ['* (covering identity) preferred over gzip', '*;q=0.5, gzip;q=0.2', false],
    ['gzip;q=1.5 ignored', 'gzip;q=1.5', false],
    ['gzip;q=abc ignored', 'gzip;q=abc', false],
    ['gzip;q=1.0001 ignored', 'gzip;q=1.0001', false],
    ['bad q ignored, later gzip counts', 'gzip;q=2, gzip;q=0.5', true],
    ['gzip with a non-q parameter ignored', 'gzip;level=9', false],
    ['garbage ignored', 'gz ip, gzip', true],
    ['gzip as part of another name', 'gzipx, xgzip', false],
    ['br only', 'br', false],
  ]
  for (const [name, header, expected] of cases) {
    await t.test(name, () => {
      assert.equal(acceptsGzip(header), expected)
    })
  }
})
