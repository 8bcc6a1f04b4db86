// The training forward's losses and gradients against numbers produced by Coqui's own GPT.forward
// (trainer/finetune/fixtures/coqui_loss_parity.json, written by `finetune.coqui_loss_parity
// reference` from idiap/coqui-ai-TTS): same seeded weights, same batch, eval mode, with and without
// Coqui's prompt masking. The narrow model always runs (seconds); the full-size one takes minutes of
// CPU and runs when FINETUNE_FULL_PARITY=1.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { repoRoot, runPython } from '../model-package/python.ts';

describe("training losses against Coqui's GPT.forward", { skip: EMBEDDED_PASS_ONLY }, () => {
  const FIXTURE = join(repoRoot, 'trainer', 'finetune', 'fixtures', 'coqui_loss_parity.json');

  type ModeError = { loss_text_abs_err: number; loss_mel_abs_err: number; grad_max_rel_err: number };
  type SizeReport = { ok: boolean; coqui_masking?: ModeError; no_masking?: ModeError };

  async function check(size: string): Promise<void> {
    const r = await runPython('finetune.coqui_loss_parity', ['check', FIXTURE, '--sizes', size]);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, SizeReport>;
    const s: SizeReport | undefined = report[size];
    assert.ok(s, r.stdout + r.stderr);
    for (const mode of ['coqui_masking', 'no_masking'] as const) {
      const m: ModeError | undefined = s[mode];
      assert.ok(m, mode);
      assert.ok(m.loss_text_abs_err <= 1e-5, `${mode} loss_text off by ${m.loss_text_abs_err}`);
      assert.ok(m.loss_mel_abs_err <= 1e-5, `${mode} loss_mel off by ${m.loss_mel_abs_err}`);
      assert.ok(m.grad_max_rel_err <= 1e-4, `${mode} gradients off by ${m.grad_max_rel_err} (relative)`);
    }
    assert.equal(r.code, 0, r.stderr.slice(-2000));
  }

  test('training losses and gradients match Coqui GPT.forward (narrow model)', async () => {
    await check('small');
  });

  test('training losses and gradients match Coqui GPT.forward (full size)', {
    skip: process.env.FINETUNE_FULL_PARITY === '1' ? false : 'set FINETUNE_FULL_PARITY=1 (minutes of CPU)',
  }, async () => {
    await check('full');
  });
});
