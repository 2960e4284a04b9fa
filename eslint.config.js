// ESLint 9+ reads only this flat config file (.eslintrc is gone), see docs/development.md, "Linting".
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'
import boundaries from 'eslint-plugin-boundaries'
import { FLOORS, MAY_IMPORT } from './eslint.layers.js'

export default defineConfig(
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'examples/**', 'eslint.layers.d.ts'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'bin/*.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  // The layers (docs/architecture.md): an import that points up a floor fails lint.
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: 'tsconfig.json' } },
      // Root files are elements of their own until they move into their floor's folder.
      'boundaries/legacy-warnings': false,
      'boundaries/elements': FLOORS.map(([type, pattern]) => ({ type, pattern, mode: 'full' })),
    },
    rules: {
      'boundaries/no-unknown-files': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: '{{from.type}} may not import {{to.type}}: the layers of docs/architecture.md point down only',
          policies: Object.entries(MAY_IMPORT).map(([from, allowed]) => ({
            from: { element: { type: from } },
            allow: { to: { element: { types: { anyOf: [from, ...allowed] } } } },
          })),
        },
      ],
    },
  },
  { files: ['**/*.js'], extends: [tseslint.configs.disableTypeChecked], languageOptions: { globals: globals.node } },
  // The browse UI's script runs in browsers, as a classic script.
  { files: ['ui-assets/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
)
