// Debian's Chromium driven by playwright-core, for the browse UI's tests. Nothing is ever
// downloaded: playwright-core has no browser of its own and is pointed at /usr/bin/chromium,
// started headless with a fresh profile and no background networking (this machine's network is closed).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { TestContext } from 'node:test'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir } from './temp-tree.js'
import { findExecutable, needTool } from './tools.js'

/** Where Debian installs Chromium. */
export const CHROMIUM = '/usr/bin/chromium'

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A browser context with a fresh profile (clipboard allowed), closed after the test; undefined when skipped. */
export async function openBrowser(t: TestContext): Promise<BrowserContext | undefined> {
  const executable = needTool(t, 'chromium', findExecutable(process.env.EGGSERVE_CHROMIUM ?? CHROMIUM))
  if (executable === undefined) return undefined
  const profile = await tempDir(t, 'eggserve-chromium-')
  // A persistent context is how playwright takes a --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: FLAGS,
    permissions: ['clipboard-read', 'clipboard-write'],
    viewport: { width: 1280, height: 900 },
  })
  t.after(() => context.close())
  return context
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * axe-core's violations on the current page ("id: targets" lines). The script is evaluated
 * through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused).
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource)
  return page.evaluate<string[]>(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', '))
  })()`)
}

/** Install, before any page script, a record of CSP violations and a flag the XSS payloads would set. */
export async function watchPage(page: Page): Promise<{ errors: string[]; dialogs: string[] }> {
  await page.addInitScript(`window.__violations = []
document.addEventListener('securitypolicyviolation', (e) => { window.__violations.push(e.violatedDirective + ' ' + e.blockedURI) })`)
  const errors: string[] = []
  const dialogs: string[] = []
  page.on('pageerror', (err) => {
    errors.push(err.message)
  })
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  return { errors, dialogs }
}

/** CSP violations seen by the page so far. */
export function violations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__violations ?? []')
}
