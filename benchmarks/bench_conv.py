"""Fast convolution, max pooling and ThreeLayerConvNet training against PyTorch on the CPU.

Every comparison is measured side by side in this one run, with the same inputs, the
same dtype and the same number of threads for NumPy's BLAS and for PyTorch. Timings
alternate between the two implementations and report the median of the repeats.

    python benchmarks/bench_conv.py [--threads N] [--repeats R] [--train-images M]

Targets: geometric mean of our/torch conv time at most 1.2x; max pooling at most 2x;
ConvNet training at least as many images/s as PyTorch in float64.
"""
import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--threads", type=int, default=1,
                    help="threads for NumPy's BLAS and for PyTorch (default 1)")
parser.add_argument("--repeats", type=int, default=15, help="timed repeats per case")
parser.add_argument("--train-images", type=int, default=1000,
                    help="training images for the one-epoch ConvNet comparison")
args = parser.parse_args()

# BLAS reads its thread count when NumPy is first imported.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cs231n import fast_layers  # noqa: E402
from cs231n.classifiers.cnn import ThreeLayerConvNet  # noqa: E402
from cs231n.solver import Solver  # noqa: E402

torch.set_num_threads(args.threads)

CONV_CASES = [  # (N, C, H=W, F, k, stride, pad, dtype)
    (100, 3, 31, 25, 3, 2, 1, np.float64),
    (50, 3, 32, 32, 7, 1, 3, np.float64),
    (50, 3, 32, 32, 7, 1, 3, np.float32),
    (64, 64, 16, 64, 3, 1, 1, np.float32),
]
POOL_CASES = [(100, 3, 32), (50, 32, 32)]  # (N, C, H=W), 2x2 windows, stride 2, float64


def side_by_side(ours, theirs, repeats):
    """Median seconds of ours() and theirs(), alternating calls after one warm-up each."""
    ours(), theirs()
    our_times, their_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours()
        our_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs()
        their_times.append(time.perf_counter() - start)
    return float(np.median(our_times)), float(np.median(their_times))


def bench_conv(num_samples, channels, size, num_filters, k, stride, pad, dtype, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((num_samples, channels, size, size)).astype(dtype)
    w = rng.standard_normal((num_filters, channels, k, k)).astype(dtype)
    b = rng.standard_normal(num_filters).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, _ = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def ours():
        _, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
        fast_layers.conv_backward_fast(dout, cache)

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdout = torch.tensor(dout)

    def theirs():
        for tensor in (tx, tw, tb):
            tensor.grad = None
        F.conv2d(tx, tw, tb, stride=stride, padding=pad).backward(tdout)

    theirs()
    _, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dx, dw, db = fast_layers.conv_backward_fast(dout, cache)
    tolerance = 1e-3 if dtype == np.float32 else 1e-9
    for ours_grad, torch_grad in ((dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        reference = torch_grad.numpy()
        assert np.abs(ours_grad - reference).max() <= tolerance * np.abs(reference).max()
    return side_by_side(ours, theirs, repeats)


def bench_pool(num_samples, channels, size, repeats):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((num_samples, channels, size, size))
    dout = rng.standard_normal((num_samples, channels, size // 2, size // 2))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def ours():
        _, cache = fast_layers.max_pool_forward_fast(x, pool_param)
        fast_layers.max_pool_backward_fast(dout, cache)

    tx, tdout = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def theirs():
        tx.grad = None
        F.max_pool2d(tx, 2, 2).backward(tdout)

    return side_by_side(ours, theirs, repeats)


def make_torch_convnet(weight_scale, hidden_dim, dtype):
    """The same architecture as ThreeLayerConvNet's defaults, initialized the same way."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 7, padding=3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 16 * 16, hidden_dim), torch.nn.ReLU(),
        torch.nn.Linear(hidden_dim, 10)).to(dtype)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0, weight_scale)
            else:
                parameter.zero_()
    return model


def torch_epoch(data, weight_scale, hidden_dim, reg, batch_size):
    """One epoch of Adam in float64, with the Solver's accuracy checks before and after."""
    torch.manual_seed(0)
    model = make_torch_convnet(weight_scale, hidden_dim, torch.float64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    X_train, y_train = torch.tensor(data["X_train"]), torch.tensor(data["y_train"])
    X_val, y_val = torch.tensor(data["X_val"]), torch.tensor(data["y_val"])
    weights = [p for p in model.parameters() if p.dim() > 1]

    def accuracy(X, y):
        with torch.no_grad():
            predictions = torch.cat([model(X[i:i + 100]).argmax(1) for i in range(0, len(X), 100)])
        return (predictions == y).double().mean().item()

    def check():
        subset = torch.randperm(len(X_train))[:1000]
        return accuracy(X_train[subset], y_train[subset]), accuracy(X_val, y_val)

    start = time.perf_counter()
    check()
    for _ in range(max(len(X_train) // batch_size, 1)):
        batch = torch.randint(len(X_train), (batch_size,))
        loss = F.cross_entropy(model(X_train[batch]), y_train[batch])
        loss = loss + 0.5 * reg * sum((W * W).sum() for W in weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    check()
    return time.perf_counter() - start


def our_epoch(data, weight_scale, hidden_dim, reg, batch_size, dtype):
    np.random.seed(0)
    model = ThreeLayerConvNet(weight_scale=weight_scale, hidden_dim=hidden_dim, reg=reg, dtype=dtype)
    solver = Solver(model, data, num_epochs=1, batch_size=batch_size, update_rule="adam",
                    optim_config={"learning_rate": 1e-3}, verbose=False)
    start = time.perf_counter()
    solver.train()
    return time.perf_counter() - start


def main():
    print(f"threads: {args.threads} (NumPy BLAS and torch.set_num_threads), "
          f"repeats: {args.repeats}, torch {torch.__version__}, numpy {np.__version__}")
    compiled = fast_layers._kernels is not None
    print(f"compiled kernels: {'yes' if compiled else 'NO (NumPy fallback)'}\n")

    print("Convolution forward + backward (median ms)")
    print(f"{'case (N, C, H, F, k, stride, pad, dtype)':<44}{'ours':>9}{'torch':>9}{'ratio':>8}")
    ratios = []
    for case in CONV_CASES:
        ours, theirs = bench_conv(*case, repeats=args.repeats)
        ratios.append(ours / theirs)
        label = str(case[:-1] + (np.dtype(case[-1]).name,)).replace("'", "")
        print(f"{label:<44}{ours * 1e3:9.2f}{theirs * 1e3:9.2f}{ours / theirs:7.2f}x")
    geometric_mean = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean of ratios: {geometric_mean:.2f}x (target <= 1.2x)\n")

    print("Max pool 2x2 stride 2, forward + backward, float64 (median ms)")
    for case in POOL_CASES:
        ours, theirs = bench_pool(*case, repeats=args.repeats)
        print(f"{str(case):<44}{ours * 1e3:9.2f}{theirs * 1e3:9.2f}{ours / theirs:7.2f}x"
              " (target <= 2x)")

    rng = np.random.default_rng(2)
    num_val = max(args.train_images // 5, 100)
    data = {
        "X_train": rng.standard_normal((args.train_images, 3, 32, 32)),
        "y_train": rng.integers(10, size=args.train_images),
        "X_val": rng.standard_normal((num_val, 3, 32, 32)),
        "y_val": rng.integers(10, size=num_val),
    }
    settings = dict(weight_scale=1e-3, hidden_dim=500, reg=1e-3, batch_size=50)
    print(f"\nOne epoch of ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001), "
          f"Adam, batch 50, {args.train_images} training images and {num_val} validation "
          "images, accuracy checks included (images/s)")
    torch_seconds = torch_epoch(data, **settings)
    ours_64 = our_epoch(data, dtype=np.float64, **settings)
    ours_32 = our_epoch(data, dtype=np.float32, **settings)
    rate = args.train_images
    print(f"  PyTorch, float64:               {rate / torch_seconds:8.1f}")
    print(f"  ours, float64:                  {rate / ours_64:8.1f}  ({torch_seconds / ours_64:.2f}x PyTorch)")
    print(f"  ours, float32 (model default):  {rate / ours_32:8.1f}  ({torch_seconds / ours_32:.2f}x PyTorch)")


if __name__ == "__main__":
    main()
