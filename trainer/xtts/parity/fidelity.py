"""The project's side of the fidelity check against Coqui's XTTS classes
(test/fixtures/coqui-model, made by trainer/reference/coqui_model.py with `npm run reference:model`).

    python3 -m xtts.parity.fidelity package FIXTURE_DIR CASE OUT_DIR
        builds the case's model folder with this project's modules and the same seeded weights
        (xtts.parity.seeded_weights) the reference drew for Coqui's, checks that its state dict has the
        names and shapes Coqui's had, and exports it with the project's exporter into OUT_DIR.
    python3 -m xtts.parity.fidelity groups
        prints [[width, groups], ...]: the conditioning encoder's GroupNorm group count at every
        width of fidelity_cases.GROUP_WIDTHS that the rule accepts."""
import hashlib
import json
import os
import shutil
import sys
import tempfile

import torch

from ..export.export import export_package
from ..fixtures.tiny import make_config
from ..model.conditioning import group_count
from ..model.config import sizes_from_config
from ..model.dvae import DiscreteVAE
from ..model.model import Xtts, without_random_init
from .fidelity_cases import GROUP_WIDTHS
from .seeded_weights import fill_module


def state_signature(state) -> dict:
    lines = "\n".join(f"{k} {list(t.shape)}" for k, t in sorted(state.items()))
    return {"tensors": len(state), "sha256": hashlib.sha256(lines.encode()).hexdigest()}


def write_model_folder(fixture_dir: str, case_name: str, out: str) -> None:
    with open(os.path.join(fixture_dir, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    if case_name not in ref["cases"]:
        raise ValueError(f"{case_name}: not a case of {fixture_dir}/reference.json ({', '.join(ref['cases'])})")
    case = ref["cases"][case_name]
    vocab_path = os.path.join(fixture_dir, "vocab.json")
    with open(vocab_path, encoding="utf-8") as f:
        tok = json.load(f)
    ids = list(tok["model"]["vocab"].values()) + [t["id"] for t in tok.get("added_tokens", [])]
    cfg = make_config("full")
    cfg["model_args"].update(case["model_args"])
    cfg["model_args"]["gpt_number_text_tokens"] = max(ids) + 1
    sizes = sizes_from_config(cfg)
    with without_random_init():  # fill_module draws every parameter
        model = Xtts(sizes)
    fill_module(model, case["seed"])
    state = model.state_dict()
    got = state_signature(state)
    if got != case["state_dict"]:
        raise ValueError(f"{case_name}: the project's state dict ({got['tensors']} tensors) does not have the names "
                         f"and shapes of Coqui's ({case['state_dict']['tensors']} tensors)")
    os.makedirs(out, exist_ok=True)
    torch.save({"model": state}, os.path.join(out, "model.pth"))
    torch.manual_seed(case["seed"])
    torch.save(DiscreteVAE(sizes).state_dict(), os.path.join(out, "dvae.pth"))  # not used at inference
    torch.save(model.mel_stats.clone(), os.path.join(out, "mel_stats.pth"))
    shutil.copyfile(vocab_path, os.path.join(out, "vocab.json"))
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


def main() -> None:
    a = sys.argv[1:]
    if a[:1] == ["groups"] and len(a) == 1:
        rows = []
        for w in GROUP_WIDTHS:
            try:
                rows.append([w, group_count(w)])
            except ValueError:
                pass
        print(json.dumps(rows))
        return
    if a[:1] != ["package"] or len(a) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    fixture_dir, case_name, out = a[1:]
    work = tempfile.mkdtemp(prefix="xtts-fidelity-")
    try:
        model_dir = os.path.join(work, "model")
        write_model_folder(fixture_dir, case_name, model_dir)
        # fp32 only, and no comparison with PyTorch: the package is compared with Coqui's numbers
        # instead, and at full width the fp16 graphs and the check would double the export's time
        # and memory.
        m = export_package(model_dir, out, force=True, fp16=False, check=False)
    except (ValueError, RuntimeError) as e:
        print(f"fidelity package failed: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"package": out, "export": m["export"]}))


if __name__ == "__main__":
    main()
