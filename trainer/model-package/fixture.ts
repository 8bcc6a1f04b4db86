// npm run fixture:tiny: regenerates test/fixtures/tiny from its fixed seed (trainer/xtts/fixture.py).
import { runPython } from './python.ts';

if (import.meta.main) {
  const r = await runPython('xtts.fixture', process.argv.slice(2), true);
  process.exit(r.code);
}
