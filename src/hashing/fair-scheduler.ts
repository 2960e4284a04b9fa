// Bounded concurrency with fairness between groups (projects).
// A plain FIFO would make a listing of a small project wait behind a cold project with
// thousands of files queued first; round-robin over groups bounds that wait to the tasks
// already running. Urgent groups (a page someone is waiting for) go before background ones.

type Task = () => void

interface Group {
  readonly name: string
  readonly tasks: Task[]
  urgent: boolean
}

/** Runs async tasks, at most `concurrency` at once, taking turns between groups. */
export class FairScheduler {
  readonly #concurrency: number
  readonly #groups = new Map<string, Group>()
  #running = 0

  constructor (concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer')
    this.#concurrency = concurrency
  }

  /** Number of tasks waiting to start. */
  get pending (): number {
    let count = 0
    for (const group of this.#groups.values()) count += group.tasks.length
    return count
  }

  /** Run `task` in `group`; `urgent` groups are served before the others. */
  run<T> (group: string, task: () => Promise<T>, urgent = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = this.#groups.get(group) ?? { name: group, tasks: [], urgent }
      entry.urgent ||= urgent
      entry.tasks.push(() => {
        task().then(resolve, reject).finally(() => {
          this.#running--
          this.#drain()
        })
      })
      // Re-inserting puts a newly busy group at the end of the round.
      if (!this.#groups.has(group)) this.#groups.set(group, entry)
      this.#drain()
    })
  }

  /** Mark a group as urgent (someone waits for it), so it goes before background groups. */
  promote (group: string): void {
    const entry = this.#groups.get(group)
    if (entry !== undefined) entry.urgent = true
  }

  #drain (): void {
    while (this.#running < this.#concurrency) {
      const group = this.#next()
      if (group === undefined) return
      const task = group.tasks.shift()
      // Rotate: the group goes to the back of the round, or leaves it when empty.
      this.#groups.delete(group.name)
      if (group.tasks.length > 0) this.#groups.set(group.name, group)
      if (task === undefined) continue
      this.#running++
      task()
    }
  }

  #next (): Group | undefined {
    let fallback: Group | undefined
    for (const group of this.#groups.values()) {
      if (group.urgent) return group
      fallback ??= group
    }
    return fallback
  }
}
