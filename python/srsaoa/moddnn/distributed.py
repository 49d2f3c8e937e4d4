"""Training MoD-DNN on several processes (``torchrun``): process group, batch shards, gradients.

``srsaoa train`` under ``torchrun --nproc-per-node N`` (``python -m torch.distributed.run``)
finds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment and joins a process group
(gloo on the CPU, NCCL with ``--device cuda``, one GPU per local rank). Then:

- every process builds the same data set from the same seed and walks the same shuffled
  batches (the batch generator is seeded alike); process r takes rows r, r + N, ... of each
  batch (a batch with fewer than N rows is skipped by all);
- each process's loss is its rows' share of the batch loss (their sum / the batch size), and
  after ``backward`` one all-reduce of a flat vector sums the gradients (and the loss) over the
  processes: every process holds the gradient of the whole batch, clips it and steps alike,
  so the parameters stay identical without broadcasts;
- batch normalisation (the calibrator CNN) uses the statistics of the whole batch: per-channel
  sums and sums of squares are all-reduced in the forward pass, differentiably, as
  ``nn.SyncBatchNorm`` does on GPUs (which PyTorch does not support on the CPU), and the
  running statistics are updated with them.

So N processes take the steps one process takes with the same ``--batch``, up to the order of
floating-point sums. That is data parallelism as ``DistributedDataParallel`` does it, written
out because the two training stages optimise different parameter sets and the CPU needs the
batch-norm part. Only rank 0 validates, writes the checkpoint, the model and prints; the other
ranks return after training. Plain PyTorch; never imports GNU Radio.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: str
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"environment variable {name}={v!r} is not an integer") from None


def setup(device: str = "cpu") -> Context | None:
    """Join torchrun's process group; None when not started by torchrun with WORLD_SIZE > 1."""
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return None
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available() or torch.cuda.device_count() <= local:
            raise ValueError(
                f"--device cuda: rank {rank} needs GPU {local}, PyTorch sees "
                f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}"
            )
        backend = "nccl"
        torch.cuda.set_device(local)
        dev = f"cuda:{local}"
    else:
        backend = "gloo"
        dev = str(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
    return Context(rank, world, local, dev, backend)


def teardown(synchronise: bool = True) -> None:
    """Leave the process group.

    ``synchronise`` (after a clean finish): wait for every process first (a barrier), so
    that the group is left by all of them together; the other ranks finish long before
    rank 0, which still validates and writes. After an error, no barrier: the other
    processes may be inside a collective that this one will never join. (How a torchrun
    process then ends: ``commands.train._run``.)
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if synchronise and dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


@contextlib.contextmanager
def quiet_unless_main() -> Iterator[None]:
    """Silence stdout and stderr of ranks other than 0 (rank 0 prints for all)."""
    if is_main():
        yield
        return
    with open(os.devnull, "w") as null:
        with contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
            yield


def shard(idx: Tensor) -> Tensor | None:
    """This process's rows of a batch (rows rank, rank + N, ...); None when the batch has
    fewer rows than processes (every process skips it)."""
    n = world_size()
    if n == 1:
        return idx
    if len(idx) < n:
        return None
    return idx[rank() :: n]


def allreduce_gradients(params: Iterable[nn.Parameter], loss: Tensor) -> Tensor:
    """Sum the gradients of ``params`` and ``loss`` over the processes (one all-reduce);
    returns the summed loss. A parameter without a gradient counts as zeros."""
    params = list(params)
    if not active():
        return loss.detach()
    flat = [
        p.grad.reshape(-1) if p.grad is not None else torch.zeros_like(p).reshape(-1)
        for p in params
    ]
    buf = torch.cat([*flat, loss.detach().reshape(1).to(flat[0].dtype)])
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    i = 0
    for p in params:
        k = p.numel()
        g = buf[i : i + k].view_as(p)
        if p.grad is None:
            p.grad = g.clone()
        else:
            p.grad.copy_(g)
        i += k
    return buf[-1]


def broadcast_module(module: nn.Module) -> None:
    """Rank 0's parameters and buffers to every process (after construction or resume)."""
    if not active():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over the processes: the gradient of a sum is the sum of the
    processes' gradients (each process back-propagates its own share of the loss)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001 - autograd signature
        y = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # noqa: ANN001 - autograd signature
        g = g.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        return g


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training statistics are those of the batch over every process
    (see the module docstring); identical to ``BatchNorm1d`` in eval mode or alone."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and active()):
            return super().forward(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        local = torch.cat(
            [
                x.sum(dims),
                (x * x).sum(dims),
                torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device),
            ]
        )
        total = _AllReduceSum.apply(local)
        n = total[-1]
        mean = total[:c] / n
        var = (total[c : 2 * c] / n - mean * mean).clamp_min(0.0)  # biased, as in training
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else float(self.momentum)
                )
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                unbiased = var.detach() * (n.detach() / (n.detach() - 1).clamp_min(1.0))
                self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def global_batchnorm(module: nn.Module, on: bool = True) -> nn.Module:
    """Make every ``BatchNorm1d`` of ``module`` a ``GlobalBatchNorm1d`` (``on``) or back.
    Same parameters, buffers and state-dict keys, so model files do not change."""
    for m in module.modules():
        if on and type(m) is nn.BatchNorm1d:
            m.__class__ = GlobalBatchNorm1d
        elif not on and type(m) is GlobalBatchNorm1d:
            m.__class__ = nn.BatchNorm1d
    return module
