/**
 * Loaded into every test process by `node test/run.ts --cpu` (through --import): at exit it writes
 * the process's CPU time and that of the children it waited for (Python, ffmpeg, sox, ...) to
 * $TEST_CPU_DIR, from /proc/self/stat (Linux only; elsewhere it writes nothing). On a machine whose
 * cores are all busy for the whole suite, CPU seconds, not wall time, say what a file costs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TEST_CPU_DIR;
const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux ABI node supports

if (dir) {
  process.on('exit', () => {
    let stat: string;
    try {
      stat = readFileSync('/proc/self/stat', 'utf8');
    } catch {
      return;
    }
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const at = (n: number) => Number(f[n - 3]) / TICKS_PER_SECOND;
    const cpu = { file: process.argv[1], self_s: at(14) + at(15), children_s: at(16) + at(17) };
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(cpu));
  });
}
