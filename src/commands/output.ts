// Where commands write: stdout and stderr, injected so tests can capture them.

/** Text outputs of a command, and whether stderr is a terminal (progress bars). */
export interface Output {
  out: (text: string) => void
  err: (text: string) => void
  readonly isTTY?: boolean
}
