"""Single-speaker GPT fine-tuning of XTTS-v2 on the project's own modules (`xtts`), with every
checkpoint exported as a GPT-only model package. Entry point: `python -m finetune.train SPEC.json`."""
