// npm run model:import -- <coqui model dir> <out dir> [--base <package>] [--device cpu|cuda] [--force]
// Converts a Coqui XTTS-v2 folder into a checked model package (see trainer/xtts/export/export.py).
import { runPython } from './python.ts';

export async function importModel(args: readonly string[], echo = true): Promise<number> {
  const r = await runPython('xtts.export', args, echo);
  return r.code;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.length < 2) {
    console.error('usage: npm run model:import -- <coqui model dir> <out dir> [--base <package>] [--device cpu|cuda]');
    process.exit(2);
  }
  process.exit(await importModel(args));
}
