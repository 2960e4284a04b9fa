// A person who opens `/` in a browser is sent to the browse UI; everyone else gets the original
// root page, byte for byte. easy_install and old pips parse that page, so it never gains a link.
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { isBrowserNavigation } from '../../core/browser-navigation.js'

/**
 * Answer a browser's navigation to exactly `/` (no query string: `/?format=text/html` still
 * shows the original page in a browser) with 303 See Other to `-/` (RFC 9110 §15.4.4). The
 * redirect is `no-store`, so no cache can hand it to an installer; the 200 stays as it was.
 */
const browserHome: onRequestHookHandler = (request, reply, done) => {
  if (request.url === '/' && request.method === 'GET' && isBrowserNavigation(request.headers)) {
    void reply.code(303).headers({ location: '-/', 'cache-control': 'no-store' }).send()
    return
  }
  done()
}

/**
 * Put the check on the route of `/` alone, first among its onRequest hooks (before access
 * control, as an app-wide hook was): on every route it would be one more hook on every request.
 * Call it before the route of `/` is registered.
 */
export function registerBrowserHome(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.url !== '/' || !(route.method === 'GET' || (Array.isArray(route.method) && route.method.includes('GET'))))
      return
    const hooks = route.onRequest
    route.onRequest = hooks === undefined ? [browserHome] : [browserHome, ...(Array.isArray(hooks) ? hooks : [hooks])]
  })
}
