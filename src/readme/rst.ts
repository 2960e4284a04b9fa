// reStructuredText READMEs through PyPI's own renderer: Debian's python3-readme-renderer
// (docutils, with file insertion and raw directives off, then bleach), in a child process with
// a time limit. Its HTML is cleaned again by our sanitizer afterwards.
import { spawn } from 'node:child_process'

/** What the subprocess gave. */
export type RstResult =
  | { readonly kind: 'html'; readonly html: string }
  /** docutils refused the text (readme_renderer returns None): show it as text. */
  | { readonly kind: 'invalid' }
  /** No python3 with readme_renderer on this machine. */
  | { readonly kind: 'unavailable' }
  /** Timed out, or failed some other way. */
  | { readonly kind: 'failed'; readonly reason: string }

// Exit 4: the module is missing; exit 3: readme_renderer.rst.render returned None.
const SCRIPT = [
  'import sys',
  'try:',
  '    from readme_renderer.rst import render',
  'except ImportError:',
  '    sys.exit(4)',
  "sys.stdin.reconfigure(encoding='utf-8', errors='replace')",
  "sys.stdout.reconfigure(encoding='utf-8')",
  'out = render(sys.stdin.read())',
  'if out is None:',
  '    sys.exit(3)',
  'sys.stdout.write(out)',
].join('\n')

const MAX_OUTPUT = 16 * 1024 * 1024

/** Render `text` with `python -I` (isolated: no PYTHON* variables, no user site), within `timeoutMs`. */
export function renderRst(
  text: string,
  options: { readonly python: string; readonly timeoutMs: number },
): Promise<RstResult> {
  return new Promise((resolve) => {
    const child = spawn(options.python, ['-I', '-c', SCRIPT], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { LC_ALL: 'C.UTF-8', PATH: '/usr/bin:/bin' },
    })
    // Our own timer rather than spawn's `timeout`, which stays armed when the spawn itself fails.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
    }, options.timeoutMs)
    timer.unref()
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const settle = (result: RstResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_OUTPUT) {
        child.kill('SIGKILL')
        settle({ kind: 'failed', reason: 'output too large' })
      } else {
        chunks.push(chunk)
      }
    })
    child.once('error', (err: NodeJS.ErrnoException) => {
      settle(
        err.code === 'ENOENT' || err.code === 'EACCES'
          ? { kind: 'unavailable' }
          : { kind: 'failed', reason: err.message },
      )
    })
    child.once('close', (code, signal) => {
      if (code === 0) settle({ kind: 'html', html: Buffer.concat(chunks).toString('utf8') })
      else if (code === 3) settle({ kind: 'invalid' })
      else if (code === 4) settle({ kind: 'unavailable' })
      else
        settle({
          kind: 'failed',
          reason:
            signal === null ? `exit code ${String(code)}` : `killed by ${signal} (time limit ${options.timeoutMs} ms)`,
        })
    })
    // A child that exits before reading everything closes the pipe: that is not our error.
    child.stdin.on('error', () => undefined)
    child.stdin.end(text)
  })
}
