"""PyTorch helpers for the PyTorch notebook: device choice, accuracy, one training epoch.

The models themselves live in the notebook; these pieces are the plumbing every model
shares, so that the notebook, its tests and the benchmark train in exactly the same way.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F


def pick_device(verbose=True):
    """The fastest device available: CUDA, then Apple MPS, then the CPU."""
    mps_backend = getattr(torch.backends, "mps", None)
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif mps_backend is not None and mps_backend.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose:
        detail = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        print(f"using device: {device}{detail}")
    return device


def uses_fast_path(device):
    """bfloat16 autocast and channels_last pay off on CUDA only; elsewhere stay float32."""
    return torch.device(device).type == "cuda"


def prepare_model(model, device):
    """Move a model to `device`, in channels_last layout where that is faster."""
    if uses_fast_path(device):
        return model.to(device=device, memory_format=torch.channels_last)
    return model.to(device=device)


def _autocast(device):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16,
                          enabled=uses_fast_path(device))


def _match_layout(x, device):
    return x.contiguous(memory_format=torch.channels_last) if uses_fast_path(device) else x


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def warmup_decay_factor(step, total_steps, warmup_fraction=0.2, start=0.1, end=0.0):
    """Learning-rate multiplier at `step`: linear warmup from `start` to 1, then linear decay to `end`.

    Meant for torch.optim.lr_scheduler.LambdaLR, stepped once per batch.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")
    if not 0.0 < warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must lie in (0, 1), got {warmup_fraction}")
    peak = warmup_fraction * total_steps
    return float(np.interp(step, [0, peak, total_steps], [start, 1.0, end]))


def warmup_decay_schedule(optimizer, total_steps, warmup_fraction=0.2, start=0.1, end=0.0):
    """A per-batch LambdaLR following :func:`warmup_decay_factor` (a one-cycle shape)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_decay_factor(step, total_steps, warmup_fraction, start, end),
    )


def predict_scores(model, x, flip_tta=False):
    """Class scores for a batch; with flip_tta, averaged with those of the mirrored images."""
    scores = model(x)
    if flip_tta:
        scores = 0.5 * (scores + model(x.flip(-1)))
    return scores


def evaluate(model, loader, flip_tta=False):
    """Fraction of the loader's images that `model` classifies correctly (model left in eval mode)."""
    model.eval()
    num_correct, num_samples = 0, 0
    with torch.inference_mode(), _autocast(loader.device):
        for x, y in loader:
            scores = predict_scores(model, _match_layout(x, loader.device), flip_tta)
            num_correct += (scores.argmax(dim=1) == y).sum().item()
            num_samples += y.numel()
    if num_samples == 0:
        raise ValueError("evaluate got an empty loader")
    return num_correct / num_samples


def train_one_epoch(model, optimizer, loader, scheduler=None, label_smoothing=0.0):
    """One pass over `loader` with cross-entropy loss; the scheduler steps once per batch.

    Returns a dict with the mean training loss and the training throughput in images/s
    (wall clock, including the on-device augmentation the loader applies).
    """
    model.train()
    device = loader.device
    total_loss = torch.zeros((), device=device)
    num_batches, num_images = 0, 0
    _synchronize(device)
    start = time.perf_counter()
    for x, y in loader:
        with _autocast(device):
            scores = model(_match_layout(x, device))
            loss = F.cross_entropy(scores.float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        # Accumulate on the device so that the loop never waits for the GPU.
        total_loss += loss.detach()
        num_batches += 1
        num_images += y.numel()
    _synchronize(device)
    seconds = time.perf_counter() - start
    if num_batches == 0:
        raise ValueError("train_one_epoch got an empty loader")
    return {"loss": total_loss.item() / num_batches, "images_per_sec": num_images / seconds}


def count_multiply_adds(model, input_shape=(3, 32, 32)):
    """Multiply-adds of the convolutions and linear layers for one input of `input_shape`.

    A forward hook on every nn.Conv2d and nn.Linear counts, per output value, the products
    that produced it; batch normalization, activations and pooling are left out, as they
    cost little next to those.
    """
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kernel_h, kernel_w = module.kernel_size
            per_output = module.in_channels // module.groups * kernel_h * kernel_w
        else:
            per_output = module.in_features
        total += output[0].numel() * per_output

    hooks = [layer.register_forward_hook(count) for layer in model.modules()
             if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total
