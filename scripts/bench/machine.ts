// What the run happened on, for the report: CPU, cores, RAM, kernel, node, nginx, wrk, disk.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly ramGb: number
  readonly kernel: string
  readonly node: string
  readonly nginx: string
  readonly wrk: string
  /** Device, filesystem, size and mount options of the folder holding the trees. */
  readonly disk: string
}

/** The first line of a command's stdout+stderr, or undefined if it cannot run. */
export function commandLine(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', env })
  if (result.error !== undefined) return undefined
  const text = `${result.stdout}\n${result.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line !== '')
  return text
}

export function describeMachine(treesDir: string, env: NodeJS.ProcessEnv): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown'
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (model?.[1] !== undefined) cpu = model[1]
  } catch {
    // Keep os.cpus()'s answer.
  }
  const findmnt = commandLine('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,SIZE,OPTIONS', '--target', treesDir])
  const df = commandLine('sh', ['-c', `df -hT "$1" | tail -n 1`, 'sh', treesDir])
  const hypervisor = commandLine('sh', ['-c', 'lscpu | sed -n "s/^Hypervisor vendor: *//p"'])
  return {
    cpu: hypervisor === undefined ? cpu : `${cpu} (${hypervisor} VM)`,
    cores: cpus().length,
    ramGb: totalmem() / 2 ** 30,
    kernel: release(),
    node: process.version,
    nginx: (commandLine('nginx', ['-v'], env) ?? 'not found').replace(/^nginx version: nginx\//, ''),
    wrk: (commandLine('wrk', ['-v'], env) ?? 'not found').replace(/^wrk /, '').replace(/ Copyright.*$/, ''),
    disk: `${treesDir}: ${findmnt ?? df ?? 'unknown'}`.replace(/\s+/g, ' '),
  }
}
