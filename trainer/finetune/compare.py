"""Compares the weights of two checkpoints (model.pth files or checkpoint folders).

    python -m finetune.compare A B   -> {"tensors": n, "max_abs_diff": x, "equal": bool, "differing": [...]}"""
import json
import os
import sys

import torch


def _state(p: str) -> dict:
    if os.path.isdir(p):
        p = os.path.join(p, "model.pth")
    obj = torch.load(p, map_location="cpu", weights_only=False)
    return obj.get("model", obj)


def compare(a: str, b: str) -> dict:
    sa, sb = _state(a), _state(b)
    if set(sa) != set(sb):
        return {"tensors": 0, "max_abs_diff": None, "equal": False, "differing": sorted(set(sa) ^ set(sb))[:10]}
    worst, differing = 0.0, []
    for k in sorted(sa):
        if not torch.equal(sa[k], sb[k]):
            differing.append(k)
            worst = max(worst, float((sa[k].double() - sb[k].double()).abs().max()))
    return {"tensors": len(sa), "max_abs_diff": worst, "equal": not differing, "differing": differing[:10]}


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1], sys.argv[2])))
