// The name rule (docs/upstream.md, "The name rule"): local first, never-upstream patterns, the
// merge list, and fnmatch-like patterns over PEP 503-normalized names.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compileNamePattern, decide, namePolicy, neverUpstream, type NameDecision } from '../../src/core/name-rule.js'

void describe('compileNamePattern', () => {
  const cases: readonly (readonly [string, string, boolean])[] = [
    ['acme-*', 'acme-utils', true],
    ['acme-*', 'acme', false],
    ['acme-*', 'acmeutils', false],
    ['acme-*', 'not-acme-utils', false],
    // Normalized like names: "_" and "." are "-", case is ignored.
    ['acme_*', 'acme-utils', true],
    ['Acme.*', 'acme-utils', true],
    ['acme--*', 'acme-x', true],
    ['acme-?', 'acme-x', true],
    ['acme-?', 'acme-xy', false],
    ['acme-[xy]', 'acme-y', true],
    ['acme-[!xy]', 'acme-y', false],
    ['acme-[!xy]', 'acme-z', true],
    ['acme-[a-c]1', 'acme-b1', true],
    ['acme-[a-c]1', 'acme-d1', false],
    // Regular-expression characters are literal.
    ['a+b', 'a+b', true],
    ['a+b', 'aab', false],
    ['*', 'anything', true],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
  ]
  for (const [pattern, name, expected] of cases) {
    void test(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(compileNamePattern(pattern).regex.test(name), expected)
    })
  }
  void test('an unclosed [ or an empty pattern is a SyntaxError', () => {
    assert.throws(() => compileNamePattern('acme-['), SyntaxError)
    assert.throws(() => compileNamePattern('  '), SyntaxError)
  })
})

void describe('decide', () => {
  const policy = namePolicy({
    hasUpstreams: true,
    neverUpstream: ['acme-*', 'internal'],
    merge: ['NumPy', 'acme-shared'],
  })
  const cases: readonly (readonly [string, boolean, NameDecision])[] = [
    // Local first: a local project is never looked up upstream.
    ['acme-utils', true, 'local'],
    ['requests', true, 'local'],
    // A local name on the merge list shows both, under any spelling.
    ['numpy', true, 'merge'],
    ['NUMPY', true, 'merge'],
    // Never-upstream wins over the merge list.
    ['acme-shared', true, 'local'],
    // A miss: never-upstream patterns are 404, anything else goes upstream.
    ['acme-utils', false, 'not-found'],
    ['Acme_Utils', false, 'not-found'],
    ['internal', false, 'not-found'],
    ['internals', false, 'upstream'],
    ['requests', false, 'upstream'],
    ['numpy', false, 'upstream'],
  ]
  for (const [name, local, expected] of cases) {
    void test(`${name} (${local ? 'local' : 'not local'}) → ${expected}`, () => {
      assert.equal(decide(policy, name, local), expected)
    })
  }
  void test('without upstreams, nothing is merged and a miss is a 404', () => {
    const alone = namePolicy({ hasUpstreams: false, neverUpstream: [], merge: ['numpy'] })
    assert.equal(decide(alone, 'numpy', true), 'local')
    assert.equal(decide(alone, 'numpy', false), 'not-found')
  })
  void test('neverUpstream normalizes the name', () => {
    assert.equal(neverUpstream(policy, 'ACME.Utils'), true)
    assert.equal(neverUpstream(policy, 'requests'), false)
  })
})
