// Made-up facts for bench report tests: a machine description every report needs.
import type { Machine } from '../../scripts/bench/machine.js'

/** A machine for reports rendered from made-up numbers. */
export const TEST_MACHINE: Machine = {
  cpu: 'Test CPU',
  cores: 2,
  ramGb: 8,
  kernel: '6.1',
  node: 'v20.20.2',
  nginx: '1.22.1',
  wrk: '4.1.0',
  disk: '/tmp',
}
