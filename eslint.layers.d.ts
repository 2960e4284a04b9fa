// Types of eslint.layers.js, for the test that holds docs/architecture.md to it.
export declare const FLOORS: readonly (readonly [string, readonly string[]])[]
export declare const MAY_IMPORT: Readonly<Record<string, readonly string[]>>
