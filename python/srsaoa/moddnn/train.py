"""Training loop of MoD-DNN (Section 5 recipe) with checkpoints, resume and seeds.

Stage 1 fits the multi-task autoencoder to eq 10's targets; stage 2 trains the MoDL-SSR
calibrators through the unrolled SCG iterations with the one-hot MSE of eq 31 (the
autoencoder frozen). Both stages: Adam, lr 0.01, batch 64, lr halved every 5 epochs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from . import distributed as ddp
from .config import ModelConfig, TrainConfig
from .data import CfrDataset
from .model import (
    MoDDNN,
    autoencoder_targets,
    mse_loss,
    prepare_cfr,
    prepare_input_with_part,
    spectrum_targets,
)

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds third-party code using the legacy API
    torch.manual_seed(seed)


def _batches(n: int, batch: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return [perm[i : i + batch] for i in range(0, n, batch)]


@torch.no_grad()
def predict(model: MoDDNN, x: torch.Tensor, batch: int = 256) -> NDArray[np.float64]:
    """AoA (deg) of prepared inputs x [N, S, K, 2M]."""
    from .model import peak_aoa

    was = model.training
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        s = model.full_spectrum(model(x[i : i + batch]))
        out.append(
            peak_aoa(s, model.grid.cpu(), model.cfg.peak_halfwidth_deg / model.cfg.grid_step_deg)
        )
    model.train(was)
    return np.concatenate(out) if out else np.zeros(0)


def rmse(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def train(
    cfg: ModelConfig,
    tcfg: TrainConfig,
    train_set: CfrDataset,
    val_set: CfrDataset | None,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    manifold: object | None = None,
) -> tuple[MoDDNN, list[dict[str, Any]]]:
    """Train a MoD-DNN; returns the model (on CPU, eval mode) and per-epoch history.
    With a validation set the returned weights are those of the MoDL-SSR epoch with the
    lowest validation RMSE (its record has ``"best": True``), not simply the last epoch's.
    ``manifold`` (``array.manifold``, a sweep's measured manifold) sets the coarray
    dictionary of a ``cfg.dictionary == "calibrated"`` model, which needs one."""
    seed_everything(tcfg.seed)
    if device == "cpu":
        torch.use_deterministic_algorithms(True)
    dev = torch.device(device)
    model = MoDDNN(cfg)
    if cfg.dictionary == "calibrated":
        if manifold is None:
            raise ValueError('a model with dictionary="calibrated" needs the measured manifold')
        model.set_dictionary(manifold, train_set.subcarriers_hz)
    model = model.to(dev)
    if ddp.active():  # several processes (torchrun): batch norm over the whole batch
        ddp.global_batchnorm(model)
    if train_set.extra_cfr is not None and train_set.extra_paths is not None:
        xt, xp = prepare_input_with_part(train_set.cfr, train_set.extra_cfr, cfg)
        x_train = torch.from_numpy(xt)
        ae_target = autoencoder_targets(
            x_train, train_set.aoa_deg, cfg, torch.from_numpy(xp), train_set.extra_paths[:, 0]
        ).to(dev)
        x_train = x_train.to(dev)
    else:
        x_train = prepare_cfr(train_set.cfr, cfg).to(dev)
        ae_target = autoencoder_targets(x_train.cpu(), train_set.aoa_deg, cfg).to(dev)
    oh_target = spectrum_targets(train_set.aoa_deg, cfg, train_set.extra_paths).to(dev)
    x_val = None
    if val_set is not None and len(val_set) and ddp.is_main():  # rank 0 validates
        x_val = prepare_cfr(val_set.cfr, cfg).to(dev)

    ae_params = list(model.autoencoder.parameters())
    ssr_params = list(model.ssr.parameters())
    opt_ae = torch.optim.Adam(ae_params, lr=tcfg.lr)
    opt_ssr = torch.optim.Adam(ssr_params, lr=tcfg.lr)
    sch_ae = torch.optim.lr_scheduler.StepLR(opt_ae, tcfg.lr_half_every, gamma=0.5)
    sch_ssr = torch.optim.lr_scheduler.StepLR(opt_ssr, tcfg.lr_half_every, gamma=0.5)
    gen = torch.Generator().manual_seed(tcfg.seed)
    history: list[dict[str, Any]] = []
    start = 0
    best: dict[str, Any] | None = None  # {"epoch", "val_rmse_deg", "state"} of the best epoch
    ckpt = Path(checkpoint) if checkpoint else None
    if resume and ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt_ae.load_state_dict(state["opt_ae"])
        opt_ssr.load_state_dict(state["opt_ssr"])
        sch_ae.load_state_dict(state["sch_ae"])
        sch_ssr.load_state_dict(state["sch_ssr"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["epoch"])
        best = state.get("best")
        history = [dict(zip(state["hist_keys"], row)) for row in state["hist"].tolist()]
        log.info("resumed from %s at epoch %d", ckpt, start)

    ddp.broadcast_module(model)  # the same start on every process (torchrun)
    total = tcfg.autoencoder_epochs + tcfg.epochs
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc="train", unit="epoch")
    n = x_train.shape[0]
    for epoch in range(start, total):
        stage = "autoencoder" if epoch < tcfg.autoencoder_epochs else "ssr"
        model.train()
        losses = []
        for idx in _batches(n, tcfg.batch_size, gen):
            n_batch = len(idx)
            idx = ddp.shard(idx)  # this process's rows of the batch (all of them alone)
            if idx is None:
                continue
            idx = idx.to(dev)
            if stage == "autoencoder":
                out = model.autoencoder(x_train[idx])
                loss = ((out - ae_target[idx]) ** 2).sum(dim=(1, 2, 3, 4)).mean()
                opt, params = opt_ae, ae_params
            else:
                if n_batch < 2:  # batch norm needs two samples
                    continue
                with torch.no_grad():
                    eta_hat = model.coarray(model.autoencoder(x_train[idx]))
                eta = model.ssr(eta_hat, model.coarray.proj, model.coarray.mask)
                loss = mse_loss(eta, oh_target[idx])
                opt, params = opt_ssr, ssr_params
            if ddp.active():  # this process's share of the batch loss
                loss = loss * (len(idx) / n_batch)
            opt.zero_grad()
            loss.backward()
            loss = ddp.allreduce_gradients(params, loss)  # the whole batch's gradient
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            losses.append(float(loss.detach()))
        (sch_ae if stage == "autoencoder" else sch_ssr).step()
        rec: dict[str, Any] = {"epoch": epoch + 1, "stage": stage, "loss": float(np.mean(losses))}
        if x_val is not None and stage == "ssr":
            rec["val_rmse_deg"] = rmse(predict(model, x_val), val_set.aoa_deg)
        elif x_val is not None:
            with torch.no_grad():
                model.eval()
                out = model.autoencoder(x_val)
                tgt = autoencoder_targets(x_val.cpu(), val_set.aoa_deg, cfg).to(dev)
                rec["val_loss"] = float(((out - tgt) ** 2).sum(dim=(1, 2, 3, 4)).mean())
        history.append(rec)
        val = rec.get("val_rmse_deg")
        if val is not None and np.isfinite(val) and (best is None or val < best["val_rmse_deg"]):
            state_now = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = {"epoch": epoch + 1, "val_rmse_deg": float(val), "state": state_now}
        if bar is not None:
            bar.set_postfix(
                {
                    k: (f"{v:.4g}" if isinstance(v, float) else v)
                    for k, v in rec.items()
                    if k != "epoch"
                }
            )
            bar.update(1)
        log.info("epoch %s", rec)
        if on_epoch is not None:
            on_epoch(rec)
        if ckpt is not None and ddp.is_main():
            keys = ["epoch", "loss", "val_rmse_deg", "val_loss"]
            hist = torch.tensor(
                [[float(h.get(k, np.nan)) for k in keys] for h in history], dtype=torch.float64
            )
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt_ae": opt_ae.state_dict(),
                    "opt_ssr": opt_ssr.state_dict(),
                    "sch_ae": sch_ae.state_dict(),
                    "sch_ssr": sch_ssr.state_dict(),
                    "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch + 1,
                    "hist": hist,
                    "hist_keys": keys,
                    "best": best,
                },
                ckpt,
            )
    if bar is not None:
        bar.close()
    if best is not None and best["epoch"] != total:
        # the validation curve of a small network on few measured angles is noisy and its
        # late epochs can lose what the early ones had: keep the best validated weights
        model.load_state_dict(best["state"])
        log.info(
            "kept the weights of epoch %d (validation RMSE %.3f deg) of %d",
            best["epoch"],
            best["val_rmse_deg"],
            total,
        )
    if best is not None:
        for rec in history:
            rec["best"] = rec["epoch"] == best["epoch"]
    ddp.global_batchnorm(model, on=False)
    model = model.cpu().eval()
    return model, history
