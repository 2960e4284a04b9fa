// Small shared test utilities: reproducible bytes, and watching this process's descriptors.
import { readdirSync } from 'node:fs'

/** Deterministic incompressible bytes (xorshift32). */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Descriptors this process holds (Linux). */
export function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length
}

/** Wait (briefly) for a condition that an asynchronous close makes true. */
export async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  return check()
}
