"""Fine-tunes XTTS-v2's GPT on one speaker's LJSpeech dataset and exports every checkpoint as a
GPT-only model package.

    python -m finetune.train SPEC.json        (single process; or torchrun --nproc_per_node N -m finetune.train SPEC.json)

SPEC: {"run_dir", "base_model_dir", "base_package", "dataset_dir", "language", "export_dir",
       "name"?: run name (default: basename of run_dir), "config"?: {...}} (defaults in finetune/spec.py).
stdout carries one JSON event per line and nothing else: dataset, progress, eval, checkpoint, done,
error. Exit 0 when done, 2 for user or resource errors (NO_USABLE_CLIPS, DATASET_INVALID,
BASE_MISMATCH, OUT_OF_MEMORY, DISK_FULL), 1 for anything else (code INTERNAL). Rerunning the same
SPEC resumes from the last complete checkpoint."""
import errno
import os
import sys
import traceback

from .events import claim_stdout, emit


class UserError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _prepare(spec: dict):
    import torch

    from xtts.model.checkpoint import read_model_folder

    from .checkpoints import BaseMismatch, check_base
    from .data import DatasetError, TextEncoder, describe, filter_clips, read_splits
    from .setup import runtime

    cfg = spec["config"]
    try:
        _cfg, sizes, model, dvae, _tok = read_model_folder(spec["base_model_dir"])
        check_base(spec["base_model_dir"], spec["base_package"], sizes, model.mel_stats)
    except (ValueError, BaseMismatch) as e:
        raise UserError("BASE_MISMATCH", str(e)) from None
    try:
        enc = TextEncoder(os.path.join(spec["base_model_dir"], "vocab.json"), spec["language"])
        # The model's own position tables bound what it can learn from: input = 1024 + codes + 4.
        max_wav = min(cfg["max_wav_length"], (sizes.gpt_max_audio_tokens - 2) * sizes.gpt_code_stride_len)
        max_text = min(cfg["max_text_tokens"], sizes.gpt_max_text_tokens)
        rows_train, rows_eval = read_splits(spec["dataset_dir"], cfg["seed"])
        train, rej = filter_clips(rows_train, spec["dataset_dir"], enc, max_wav, max_text)
        ev, rej_e = filter_clips(rows_eval, spec["dataset_dir"], enc, max_wav, max_text)
    except DatasetError as e:
        raise UserError(e.code, str(e)) from None
    rt = runtime(cfg)
    if rt.main:
        emit("dataset", **describe(train, ev, rej + rej_e))
    if not train:
        why = ", ".join(f"{k} {v}" for k, v in sorted((rej + rej_e).items())) or "the metadata lists no clips"
        raise UserError("NO_USABLE_CLIPS", f"no training clip passed the filters ({why})")
    torch.manual_seed(cfg["seed"])
    return rt, model, dvae, train, ev, enc.stop


def _disk_full(dirs) -> bool:
    import shutil
    for d in dirs:
        while d and not os.path.isdir(d):
            d = os.path.dirname(d)
        # Less than what one tiny checkpoint needs: nothing more can be written there.
        if d and shutil.disk_usage(d).free < 4 * 2 ** 20:
            return True
    return False


def main(argv) -> int:
    claim_stdout()
    spec_dirs: list = []
    if len(argv) != 1:
        emit("error", code="DATASET_INVALID", message="usage: python -m finetune.train SPEC.json")
        return 2
    try:
        import torch

        from .loop import Trainer
        from .spec import SpecError, load_spec

        try:
            spec = load_spec(argv[0])
        except SpecError as e:
            raise UserError("DATASET_INVALID", str(e)) from None
        spec_dirs = [spec["run_dir"], spec["export_dir"]]
        rt, model, dvae, train, ev, stop = _prepare(spec)
        os.makedirs(spec["run_dir"], exist_ok=True)
        os.makedirs(spec["export_dir"], exist_ok=True)
        Trainer(spec, rt, model, dvae, train, ev, stop).run()
        if rt.main:
            emit("done")
        return 0
    except UserError as e:
        emit("error", code=e.code, message=str(e))
        return 2
    except MemoryError as e:
        emit("error", code="OUT_OF_MEMORY", message=f"host memory: {e}")
        return 2
    except Exception as e:  # noqa: BLE001 - classified below, everything else is reported as INTERNAL
        import torch
        if isinstance(e, torch.cuda.OutOfMemoryError):
            emit("error", code="OUT_OF_MEMORY", message=str(e).split("\n")[0] +
                 " (lower batch_size and raise grad_accum, or enable gradient_checkpointing / bf16)")
            return 2
        # torch.save reports a full disk without an errno, in several wordings ("PytorchStreamWriter
        # failed writing file", "iostream error", "unexpected pos"): so a failed write on a disk
        # that has (almost) no room left is a full disk, whatever the message.
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in str(e) \
                or "failed writing file" in str(e) or "file write failed" in str(e) or _disk_full(spec_dirs):
            emit("error", code="DISK_FULL", message=f"The disk is full: {str(e).splitlines()[0] if str(e) else e!r}")
            return 2
        traceback.print_exc(file=sys.stderr)
        emit("error", code="INTERNAL", message=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
