"""Checkpoints and their export.

A checkpoint is a Coqui-layout folder run_dir/checkpoints/<name>/ (model.pth with the whole Xtts state
as {"model": ...}, config.json, vocab.json, mel_stats.pth, dvae.pth) that xtts.export and Coqui's
loader can read, plus meta.json (position and losses) and training_state.pt (optimizer, scheduler,
scaler, RNG, data position), which only resuming reads. It is written under a temporary name and
renamed, so a folder without the temporary prefix is always complete. Only the newest checkpoint
keeps its training_state.pt: at full size AdamW's moments are 3.5 GB per checkpoint, and resuming
needs the last one only. Its package is exported to export_dir/<name> by xtts.export,
which itself builds in a temporary folder and renames at the end."""
import contextlib
import json
import os
import shutil
import sys
from typing import List

import torch

from xtts.export.digest import file_sha256
from xtts.export.export import export_package
from xtts.model.config import sizes_dict

STATE = "training_state.pt"
META = "meta.json"
META_KEYS = ["name", "step", "epoch", "next_batch", "finished", "train_loss", "eval_loss"]
COPIED = ["config.json", "vocab.json", "mel_stats.pth", "dvae.pth"]


class BaseMismatch(Exception):
    pass


def check_base(base_model_dir: str, base_package: str, sizes, mel_stats: torch.Tensor) -> None:
    """The package the exports will name as their base must be the export of base_model_dir:
    same model configuration, byte-identical vocab.json, same mel_stats. Otherwise the fine-tuned
    GPT graphs would be served next to a HiFi-GAN, tokenizer and features they were not trained with."""
    mpath = os.path.join(base_package, "manifest.json")
    try:
        with open(mpath) as f:
            man = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise BaseMismatch(f"{mpath}: not a readable package manifest ({e})") from None
    if man.get("kind") != "base":
        raise BaseMismatch(f"{base_package}: is a {man.get('kind')!r} package, not a base package")
    ours = json.loads(json.dumps(sizes_dict(sizes)))
    theirs = (man.get("model") or {}).get("config")
    if theirs != ours:
        diff = sorted(k for k in set(ours) | set(theirs or {}) if (theirs or {}).get(k) != ours.get(k))
        raise BaseMismatch(f"{base_package}: model config differs from {base_model_dir} ({', '.join(diff[:6])})")
    vp = os.path.join(base_package, man.get("vocab", "vocab.json"))
    if not os.path.isfile(vp) or file_sha256(vp) != file_sha256(os.path.join(base_model_dir, "vocab.json")):
        raise BaseMismatch(f"{base_package}: vocab.json differs from {base_model_dir}/vocab.json")
    sp = os.path.join(base_package, man.get("mel_stats", "mel_stats.json"))
    try:
        with open(sp) as f:
            stats = torch.tensor(json.load(f), dtype=torch.float32)
    except (OSError, json.JSONDecodeError, TypeError, ValueError):
        raise BaseMismatch(f"{sp}: not readable") from None
    if stats.shape != mel_stats.shape or not torch.allclose(stats, mel_stats.float(), rtol=1e-6, atol=1e-7):
        raise BaseMismatch(f"{base_package}: mel_stats differ from {base_model_dir}")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def save_checkpoint(run_dir: str, name: str, base_model_dir: str, model_state: dict, state: dict) -> str:
    root = os.path.join(run_dir, "checkpoints")
    final = os.path.join(root, name)
    if os.path.isdir(final):  # re-saving the same step after a resume: identical by construction
        return final
    tmp = os.path.join(root, f".tmp-{name}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        torch.save({"model": model_state, "step": state["step"], "epoch": state["epoch"]}, os.path.join(tmp, "model.pth"))
        for f in COPIED:
            _link_or_copy(os.path.join(base_model_dir, f), os.path.join(tmp, f))
        torch.save(state, os.path.join(tmp, STATE))
        with open(os.path.join(tmp, META), "w") as f:
            json.dump({k: state.get(k) for k in META_KEYS}, f)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for c in complete_checkpoints(run_dir):
        if c["dir"] != final and os.path.isfile(os.path.join(c["dir"], STATE)):
            os.remove(os.path.join(c["dir"], STATE))
    return final


def remove_partial(run_dir: str, export_dir: str) -> List[str]:
    """Removes what a killed process left half-written: checkpoint folders still under their
    temporary name, and the exporter's temporary folders (a package being built, or an old one
    being swapped out). Only one trainer process runs a run at a time, so none of them is in use."""
    gone = []
    for root, prefixes in ((os.path.join(run_dir, "checkpoints"), (".tmp-",)), (export_dir, (".export-", ".old-"))):
        if not os.path.isdir(root):
            continue
        for name in os.listdir(root):
            if name.startswith(prefixes):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
                gone.append(os.path.join(root, name))
    return gone


def complete_checkpoints(run_dir: str) -> List[dict]:
    """Complete checkpoints in step order: [{"name", "dir", "state": meta.json}]."""
    root = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(root):
        return []
    out = []
    for name in os.listdir(root):
        d = os.path.join(root, name)
        if name.startswith(".") or not os.path.isfile(os.path.join(d, META)):
            continue
        with open(os.path.join(d, META)) as f:
            meta = json.load(f)
        out.append({"name": name, "dir": d, "state": meta})
    return sorted(out, key=lambda c: (c["state"]["step"], c["state"]["epoch"], c["state"]["next_batch"]))


def export_checkpoint(ckpt_dir: str, export_dir: str, name: str, base_package: str, device: str) -> str:
    """Exports once: an existing package (manifest.json written last, inside an atomic rename) is kept."""
    out = os.path.join(export_dir, name)
    if os.path.isfile(os.path.join(out, "manifest.json")):
        return out
    # The exporter reports its graph checks on stdout, which belongs to the event stream.
    with contextlib.redirect_stdout(sys.stderr):
        export_package(ckpt_dir, out, base=base_package, device=device)
    return out
