"""Devices, precision, distributed training (torchrun), the optimizer and the scheduler."""
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn

NORM_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
                nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)
EMB_MODULES = (nn.Embedding, nn.EmbeddingBag)


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    amp_dtype: Optional[torch.dtype] = None  # None: fp32

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def runtime(cfg: dict) -> Runtime:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    want = cfg["device"]
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("config.device asks for CUDA but torch sees no GPU")
        dev = torch.device("cuda", local if world > 1 or want == "cuda" else int(want.split(":")[1]))
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    amp = None
    if dev.type == "cuda" and cfg["precision"] != "fp32":
        amp = torch.bfloat16 if cfg["precision"] == "bf16" else torch.float16
    return Runtime(dev, rank, world, local, amp)


def param_groups(gpt: nn.Module, weight_decay: float):
    """Coqui's optimizer_wd_only_on_weights: biases and the parameters of norm and embedding modules
    get no weight decay; everything else (linear/conv weights, the perceiver's latents and RMSNorm
    gamma, which are not torch norm modules) does."""
    no_decay, every = set(), {}
    for mn, m in gpt.named_modules():
        for k, p in m.named_parameters(recurse=False):
            name = f"{mn}.{k}" if mn else k
            every[name] = p
            if k.endswith("bias") or isinstance(m, NORM_MODULES) or isinstance(m, EMB_MODULES):
                no_decay.add(name)
    decay = sorted(set(every) - no_decay)
    return [{"params": [every[n] for n in decay], "weight_decay": weight_decay, "names": decay},
            {"params": [every[n] for n in sorted(no_decay)], "weight_decay": 0.0, "names": sorted(no_decay)}]


def optimizer_and_scheduler(gpt: nn.Module, cfg: dict):
    groups = param_groups(gpt, cfg["weight_decay"])
    for g in groups:
        g.pop("names")
    opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"])
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg["milestones"]), gamma=cfg["gamma"])
    return opt, sched


def autocast(rt: Runtime):
    if rt.amp_dtype is None:
        return torch.autocast(device_type=rt.device.type, enabled=False)
    return torch.autocast(device_type="cuda", dtype=rt.amp_dtype)


def grad_scaler(rt: Runtime):
    return torch.amp.GradScaler("cuda", enabled=rt.amp_dtype == torch.float16)


def barrier(rt: Runtime) -> None:
    if rt.world > 1:
        dist.barrier()
