// npm run fixture:tiny: regenerates test/fixtures/tiny from its fixed seed (trainer/xtts/fixtures/fixture.py).
import { runPython } from './python.ts';

if (import.meta.main) {
  const r = await runPython('xtts.fixtures.fixture', process.argv.slice(2), true);
  process.exit(r.code);
}
