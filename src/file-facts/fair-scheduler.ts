// Bounded concurrency with fairness between groups (projects).
// A plain FIFO would make a listing of a small project wait behind a cold project with
// thousands of files queued first. Here groups take turns: each turn starts one task of the
// group that has waited longest, so a newly arrived group waits at most for the tasks
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
  /** Groups with queued tasks, by name (including the one served last). */
  readonly #groups = new Map<string, Group>()
  /** Turn order of waiting groups (Maps keep insertion order and delete in O(1)). */
  readonly #urgent = new Map<string, Group>()
  readonly #background = new Map<string, Group>()
  /**
   * The group served last goes back into its queue only at the next pick, so a group that
   * arrives in between is served before it gets another turn.
   */
  #lastServed: Group | undefined
  #running = 0

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer')
    this.#concurrency = concurrency
  }

  /** Number of tasks waiting to start. */
  get pending(): number {
    let count = 0
    for (const group of this.#groups.values()) count += group.tasks.length
    return count
  }

  /** Number of tasks running. */
  get running(): number {
    return this.#running
  }

  /** Run `task` in `group`; `urgent` groups are served before the others. */
  run<T>(group: string, task: () => Promise<T>, urgent = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let entry = this.#groups.get(group)
      if (entry === undefined) {
        entry = { name: group, tasks: [], urgent }
        this.#groups.set(group, entry)
        this.#queueOf(entry).set(group, entry)
      } else if (urgent) {
        this.promote(group)
      }
      entry.tasks.push(() => {
        let running: Promise<T>
        try {
          running = task()
        } catch (err) {
          // A task that throws before returning its promise must still give its slot back.
          running = Promise.reject(err instanceof Error ? err : new Error(String(err)))
        }
        running.then(resolve, reject).finally(() => {
          this.#running--
          this.#drain()
        })
      })
      this.#drain()
    })
  }

  /** Mark a group as urgent (someone waits for it), so it goes before background groups. */
  promote(group: string): void {
    const entry = this.#groups.get(group)
    if (entry === undefined || entry.urgent) return
    entry.urgent = true
    if (this.#background.delete(group)) this.#urgent.set(group, entry)
  }

  #queueOf(group: Group): Map<string, Group> {
    return group.urgent ? this.#urgent : this.#background
  }

  #drain(): void {
    while (this.#running < this.#concurrency) {
      const last = this.#lastServed
      if (last !== undefined) {
        this.#lastServed = undefined
        if (last.tasks.length > 0) this.#queueOf(last).set(last.name, last)
        else this.#groups.delete(last.name)
      }
      const group = first(this.#urgent) ?? first(this.#background)
      if (group === undefined) return
      this.#queueOf(group).delete(group.name)
      this.#lastServed = group
      const task = group.tasks.shift()
      if (task === undefined) continue
      this.#running++
      task()
    }
  }
}

function first(queue: Map<string, Group>): Group | undefined {
  for (const group of queue.values()) return group
  return undefined
}
