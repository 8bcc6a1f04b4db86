"""The training loop: micro-batches, gradient accumulation, per-epoch scheduler steps, evaluation,
checkpoints and exports, progress events.

Reproducibility (a run killed and resumed ends with the same weights as one that was not, on CPU):
the order of an epoch is a permutation seeded by (seed, epoch); micro-batch k's conditioning slices
and dropout masks come from a seed derived from (seed, epoch, k); checkpoints are taken only at
optimizer-step boundaries (no gradients in flight) and store the optimizer, scheduler, scaler and
the position (epoch, next micro-batch). Nothing depends on the process's global RNG history."""
import os
import time
from typing import Dict, Optional

import torch
from torch import nn

from . import checkpoints as ck
from .audio import conditioning_mel, dvae_mel
from .data import Batches
from .events import emit
from .forward import gpt_losses
from .setup import Runtime, autocast, barrier, grad_scaler, optimizer_and_scheduler


class TrainStep(nn.Module):
    """Wraps the GPT so DistributedDataParallel sees one forward() per micro-batch."""

    def __init__(self, gpt, cfg: dict):
        super().__init__()
        self.gpt, self.cfg = gpt, cfg

    def forward(self, cond_mel, text, text_lengths, codes, wav_lengths, cond_idxs, dropout: float):
        return gpt_losses(self.gpt, cond_mel, text, text_lengths, codes, wav_lengths, cond_idxs,
                          self.cfg["prompt_masking"], dropout, self.cfg["gradient_checkpointing"] and dropout > 0)


class Trainer:
    def __init__(self, spec: dict, rt: Runtime, model, dvae, train_clips, eval_clips, stop_id: int):
        self.spec, self.cfg, self.rt = spec, spec["config"], rt
        self.model, self.gpt = model, model.gpt.to(rt.device)
        self.dvae = dvae.to(rt.device).eval().requires_grad_(False)
        self.cond_mel = conditioning_mel(model.mel_stats).to(rt.device)
        self.dvae_mel = dvae_mel(model.mel_stats).to(rt.device)
        self.train_clips, self.eval_clips, self.stop_id = train_clips, eval_clips, stop_id
        self.opt, self.sched = optimizer_and_scheduler(self.gpt, self.cfg)
        self.scaler = grad_scaler(rt)
        self.plain_step = self.step_fn = TrainStep(self.gpt, self.cfg)
        if rt.world > 1:
            ids = [rt.device.index] if rt.cuda else None
            self.step_fn = nn.parallel.DistributedDataParallel(self.step_fn, device_ids=ids)
        self.epoch, self.next_batch, self.step = 0, 0, 0
        self.sums = {"loss": 0.0, "n": 0}  # train loss since the last checkpoint
        self.last_eval: Optional[float] = None

    # -- batches -------------------------------------------------------------------------------
    @torch.no_grad()
    def features(self, b: Dict[str, torch.Tensor]):
        dev = self.rt.device
        wav = b["wav"].to(dev, non_blocking=True)
        # Codes of the zero-padded batch, as Coqui's format_batch_on_device computes them.
        codes = self.dvae.codes(self.dvae_mel(wav))
        cond = self.cond_mel(b["cond_wav"].to(dev, non_blocking=True))
        return cond, b["text"].to(dev), b["text_lengths"].to(dev), codes, b["wav_lengths"].to(dev)

    def micro_losses(self, b, train: bool):
        cond, text, tl, codes, wl = self.features(b)
        with autocast(self.rt):
            out = (self.step_fn if train else self.plain_step)(cond, text, tl, codes, wl, b["cond_idxs"].to(self.rt.device) if train else None,
                               self.cfg["dropout"] if train else 0.0)
        total = self.cfg["loss_text_weight"] * out["text"] + self.cfg["loss_mel_weight"] * out["mel"]
        return out["text"], out["mel"], total

    def loader(self, ds, first: int, rank_stride: bool):
        """Micro-batch indices this process handles, from `first` (a per-process position)."""
        n = len(ds) // self.rt.world if rank_stride and self.rt.world > 1 else len(ds)
        idx = [j * self.rt.world + self.rt.rank if rank_stride and self.rt.world > 1 else j for j in range(first, n)]
        return n, torch.utils.data.DataLoader(torch.utils.data.Subset(ds, idx), batch_size=None, shuffle=False,
                                              num_workers=self.cfg["num_workers"], pin_memory=self.rt.cuda)

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> Optional[Dict[str, float]]:
        if not self.eval_clips:
            return None
        self.gpt.eval()
        ds = Batches(self.eval_clips, self.cfg["eval_batch_size"], self.cfg["seed"], 0, False, self.stop_id)
        acc = {"text": 0.0, "mel": 0.0, "loss": 0.0}
        _, dl = self.loader(ds, 0, False)
        for b in dl:
            t, m, total = self.micro_losses(b, train=False)
            acc["text"] += t.item()
            acc["mel"] += m.item()
            acc["loss"] += total.item()
        return {k: v / len(ds) for k, v in acc.items()}

    def emit_eval(self, epoch: int) -> None:
        """epoch: 0 before training, else the 1-based epoch just finished."""
        if not self.rt.main:
            return
        r = self.evaluate()
        if r is not None:
            self.last_eval = r["loss"]
            emit("eval", step=self.step, epoch=epoch, loss_text=r["text"], loss_mel=r["mel"], loss=r["loss"])

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self, finished: bool) -> dict:
        return {"epoch": self.epoch, "next_batch": self.next_batch, "step": self.step, "finished": finished,
                "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "scaler": self.scaler.state_dict(), "sums": dict(self.sums), "last_eval": self.last_eval,
                "rng": {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if self.rt.cuda else None},
                "world": self.rt.world}

    def restore(self, c: dict) -> None:
        s = torch.load(os.path.join(c["dir"], ck.STATE), map_location="cpu", weights_only=False)
        full = torch.load(os.path.join(c["dir"], "model.pth"), map_location="cpu", weights_only=False)["model"]
        self.gpt.load_state_dict({k[4:]: v for k, v in full.items() if k.startswith("gpt.")})
        self.opt.load_state_dict(s["optimizer"])
        self.sched.load_state_dict(s["scheduler"])
        self.scaler.load_state_dict(s["scaler"])
        torch.set_rng_state(s["rng"]["torch"])
        if s["world"] != self.rt.world:
            raise RuntimeError(f"checkpoint {c['name']} was written by {s['world']} processes, not {self.rt.world}")
        self.epoch, self.next_batch, self.step = s["epoch"], s["next_batch"], s["step"]
        self.sums, self.last_eval = dict(s["sums"]), s["last_eval"]

    def checkpoint(self, epoch_end: bool, finished: bool) -> None:
        if self.rt.main:
            name = f"{self.spec['name']}-e{epoch_label(self.epoch, self.next_batch)}-s{self.step}"
            train_loss = self.sums["loss"] / self.sums["n"] if self.sums["n"] else None
            eval_loss = self.last_eval if epoch_end else None
            self.sums = {"loss": 0.0, "n": 0}
            st = self.state(finished)
            st.update(name=name, train_loss=train_loss, eval_loss=eval_loss)
            weights = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
            d = ck.save_checkpoint(self.spec["run_dir"], name, self.spec["base_model_dir"], weights, st)
            self.publish({"name": name, "dir": d, "state": st})
        barrier(self.rt)

    def publish(self, c: dict) -> None:
        dev = "cuda" if self.rt.cuda else "cpu"
        pkg = ck.export_checkpoint(c["dir"], self.spec["export_dir"], c["name"], self.spec["base_package"], dev)
        s = c["state"]
        emit("checkpoint", step=s["step"], epoch=epoch_label(s["epoch"], s["next_batch"]),
             package=os.path.abspath(pkg), train_loss=s.get("train_loss"), eval_loss=s.get("eval_loss"))

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> None:
        cfg, rt = self.cfg, self.rt
        if rt.main:
            ck.remove_partial(self.spec["run_dir"], self.spec["export_dir"])
        barrier(rt)
        done = ck.complete_checkpoints(self.spec["run_dir"])
        if done:
            self.restore(done[-1])
        if rt.main:
            # Where this process starts: what a killed one logged past this step is run again.
            emit("start", step=self.step, epoch=epoch_label(self.epoch, self.next_batch) if done else 0,
                 checkpoint=done[-1]["name"] if done else None)
        if done:
            if rt.main:
                for c in done:  # exports a package a crash left unexported; re-announces the others
                    self.publish(c)
            if done[-1]["state"]["finished"]:
                return
        elif cfg["start_with_eval"]:
            self.emit_eval(0)
        barrier(rt)
        t_start, seen_batches = time.time(), 0
        while self.epoch < cfg["epochs"]:
            ds = Batches(self.train_clips, cfg["batch_size"], cfg["seed"], self.epoch, True, self.stop_id)
            n, dl = self.loader(ds, self.next_batch, True)
            if n == 0:
                raise RuntimeError(f"{len(ds)} micro-batches cannot feed {rt.world} processes")
            self.gpt.train()
            pending, acc, t0, samples = 0, [0.0, 0.0, 0.0], time.time(), 0
            for j, b in zip(range(self.next_batch, n), dl):
                torch.manual_seed(int(b["seed"]))  # dropout masks of this micro-batch
                last = j == n - 1
                sync = pending + 1 == cfg["grad_accum"] or last
                ctx = self.step_fn.no_sync() if rt.world > 1 and not sync else _null()
                with ctx:
                    t, m, total = self.micro_losses(b, train=True)
                    self.scaler.scale(total / cfg["grad_accum"]).backward()
                pending += 1
                samples += int(b["wav"].shape[0])
                for i, v in enumerate((t, m, total)):
                    acc[i] += v.item()
                self.sums["loss"] += total.item()
                self.sums["n"] += 1
                if not sync:
                    continue
                self.optimizer_step()
                self.next_batch = j + 1
                seen_batches += pending
                if rt.main and self.step % max(1, cfg["log_every_steps"]) == 0:
                    dt = time.time() - t0
                    per_batch = (time.time() - t_start) / max(1, seen_batches)
                    left = (n - j - 1) + (cfg["epochs"] - self.epoch - 1) * n
                    emit("progress", step=self.step, epoch=self.epoch + 1, loss_text=acc[0] / pending,
                         loss_mel=acc[1] / pending, loss=acc[2] / pending, lr=self.opt.param_groups[0]["lr"],
                         samples_per_s=samples * rt.world / dt if dt > 0 else None,
                         gpu_mem_mb=torch.cuda.max_memory_allocated(rt.device) / 2 ** 20 if rt.cuda else None,
                         eta_s=left * per_batch)
                pending, acc, t0, samples = 0, [0.0, 0.0, 0.0], time.time(), 0
                if last:
                    break
                if cfg["save_every_steps"] and self.step % cfg["save_every_steps"] == 0:
                    self.checkpoint(epoch_end=False, finished=False)
                self.maybe_stop()
            self.sched.step()  # per epoch, as Coqui's trainer (scheduler_after_epoch) does
            self.emit_eval(self.epoch + 1)
            self.epoch, self.next_batch = self.epoch + 1, 0
            self.checkpoint(epoch_end=True, finished=self.epoch >= cfg["epochs"])
            self.maybe_stop()

    def optimizer_step(self) -> None:
        if self.cfg["grad_clip"] > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.gpt.parameters(), self.cfg["grad_clip"])
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1

    def maybe_stop(self) -> None:
        n = self.cfg["stop_after_steps"]
        if n and self.step >= n:
            os._exit(3)  # as abrupt as a crash: no cleanup, no done event


def epoch_label(epoch: int, next_batch: int) -> int:
    """1-based epoch a checkpoint belongs to: the epoch in progress mid-epoch, the one just finished
    at an epoch end (the stored position has already moved on to the next epoch's batch 0)."""
    return epoch + 1 if next_batch else epoch


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
