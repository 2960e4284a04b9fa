// The Host header's syntax (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isIPv6Address, isValidHost } from '../../src/core/host.js'

await test('valid Host values', () => {
  for (const value of [
    'localhost',
    'localhost:31001',
    'pypi.example.com',
    'PyPI.Example.COM:443',
    '127.0.0.1',
    '127.0.0.1:8080',
    'my_host',
    'xn--bcher-kva.example',
    'a%41b.example',
    'host:',
    '',
    "sub-delims!$&'()*+,;=",
    '[::1]',
    '[::1]:31001',
    '[2001:db8::1]',
    '[2001:db8:0:0:0:0:0:1]:80',
    '[::ffff:192.0.2.1]',
    '[v7.fe80::a+en1]',
  ])
    assert.ok(isValidHost(value), JSON.stringify(value))
})

await test('invalid Host values: what would change a URL built from it, and broken literals', () => {
  for (const value of [
    'a.example, b.example',
    'a.example b.example',
    'evil.example/path',
    'evil.example?x',
    'evil.example#x',
    'user@evil.example',
    'host:80:80',
    'host:8o',
    'a%4',
    'a%zz',
    'bad\\host',
    'tab\there',
    '"quoted"',
    '<x>',
    '[::1',
    '::1',
    '[::1]x',
    '[::1]:80x',
    '[fe80::1%eth0]',
    '[fe80::1%25eth0]',
    '[1:2:3:4:5:6:7:8:9]',
    '[1::2::3]',
    '[::256.1.1.1]',
    '[12345::]',
    '[v.x]',
    '[vz.x]',
    'ünicode.example',
  ])
    assert.ok(!isValidHost(value), JSON.stringify(value))
})

await test('IPv6 addresses (RFC 3986 §3.2.2)', () => {
  for (const value of [
    '::',
    '::1',
    '1::',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6::',
    '::2:3:4:5:6:7:8',
    '1:2:3:4:5:6:1.2.3.4',
    '::1.2.3.4',
    'abcd:ef01::',
  ])
    assert.ok(isIPv6Address(value), value)
  for (const value of [
    '',
    ':',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2:3:4:5:6:7:8',
    '1.2.3.4::',
    ':1::',
    '1:2:3:4:5:6:7:1.2.3.4',
    '12345::',
    'g::',
  ])
    assert.ok(!isIPv6Address(value), value)
})
