// Fastify's schema compilers, loaded on first use instead of when the app is built.
//
// Fastify() loads its default validator compiler (@fastify/ajv-compiler, with ajv: some 250
// modules) and serializer compiler (fast-json-stringify) as soon as an instance is made,
// whether or not any route has a schema. eggserve's routes have none, so that was start-up
// time for nothing: about a tenth of a second of CPU, more on a loaded machine, before the
// server could listen (docs/benchmarks.md, "Warm restart"). Given as
// `schemaController.compilersFactory`, these builders load the same packages, from where
// Fastify itself finds them, the first time a route with a schema needs one.
import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>

// Resolved from Fastify's own entry point: the packages are its dependencies, not eggserve's.
function requireFromFastify(packageName: string): unknown {
  const here = createRequire(import.meta.url)
  return createRequire(here.resolve('fastify'))(packageName)
}

// The package exports a factory of builders (each pools its compilers per option set), as
// Fastify calls it: once, here on the first call.
function lazyBuilder<B extends (...args: never[]) => unknown>(
  packageName: string,
): (...args: Parameters<B>) => ReturnType<B> {
  let builder: B | undefined
  return (...args) => {
    builder ??= (requireFromFastify(packageName) as () => B)()
    return builder(...args) as ReturnType<B>
  }
}

/** The `schemaController` option of Fastify(): its default compilers, loaded when first needed. */
export function lazySchemaController(): { compilersFactory: Required<CompilersFactory> } {
  return {
    compilersFactory: {
      buildValidator: lazyBuilder<BuildValidator>('@fastify/ajv-compiler'),
      buildSerializer: lazyBuilder<BuildSerializer>('@fastify/fast-json-stringify-compiler'),
    },
  }
}
