// What access control can protect, in pypiserver's words (its -a/--authenticate option:
// pypiserver/config.py), so that its command lines carry over.

/** What `--authenticate` can protect: uploads and removals, files, pages. */
export type AuthAction = 'update' | 'download' | 'list'

/** Every action, in pypiserver's order. */
export const AUTH_ACTIONS: readonly AuthAction[] = ['update', 'download', 'list']
