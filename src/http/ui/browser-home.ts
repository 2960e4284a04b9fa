// A person who opens `/` in a browser is sent to the browse UI; everyone else gets the original
// root page, byte for byte. easy_install and old pips parse that page, so it never gains a link.
import type { FastifyInstance } from 'fastify'
import { isBrowserNavigation } from '../../core/browser-navigation.js'

/**
 * Answer a browser's navigation to exactly `/` (no query string: `/?format=text/html` still
 * shows the original page in a browser) with 303 See Other to `-/` (RFC 9110 §15.4.4). The
 * redirect is `no-store`, so no cache can hand it to an installer; the 200 stays as it was.
 */
export function registerBrowserHome(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/' && request.method === 'GET' && isBrowserNavigation(request.headers)) {
      void reply.code(303).headers({ location: '-/', 'cache-control': 'no-store' }).send()
      return
    }
    done()
  })
}
