"""Fast convolution, max pooling and ThreeLayerConvNet training against PyTorch on the CPU.

Every comparison is measured side by side in one process, with the same inputs, the same
dtype and the same number of threads for NumPy's BLAS, our compiled kernels (which
follow the BLAS's limit) and PyTorch (set in the environment before any of them is
imported, so each thread count runs in its own child process). Timings alternate
between the implementations and report the median of the repeats, with the spread
(lowest-highest ratio over the repeats) beside it, and how much PyTorch's own times
varied over the repeats, as a measure of the machine's noise.

The children measure the BLAS users get: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which
some machines set to force an older OpenBLAS kernel, are removed from their environment
(benchmarks/_blas.py). Each child's first line names the BLAS, its version and kernel.
--forced-kernel also runs every thread count with the machine's own setting, for
reference.

    python benchmarks/bench_conv.py [--threads 1,2] [--repeats R] [--train-images M]
                                    [--epoch-repeats E] [--parts conv,pool,epoch]
                                    [--forced-kernel] [--profile] [--background-load N]

--background-load N measures the laptop case as well: every thread count runs once on
the machine as it is and once beside N busy processes (pure-Python loops, one core each)
that the benchmark starts before that child and stops after it; each also stops itself
after --load-seconds, should the benchmark be killed.

Tables, for each thread count:
- convolution forward + backward: ours, PyTorch, our NumPy fallback (the path taken when
  the extension is not built), the ratio to PyTorch, the GFLOP/s achieved (forward and
  both backward products, 6 F K N H' W' flops) beside the GFLOP/s of one plain NumPy
  matmul of the same sizes, (F, K) @ (K, N H' W'), and the peak memory allocated during
  one forward + backward (tracemalloc, outputs included);
- max pooling forward + backward;
- one training epoch of ThreeLayerConvNet with the Solver and Adam, batch 50, against
  the same network in PyTorch in the same dtype, float32 (the model's default) and
  float64; with --profile, where our float32 epoch spends its time (cProfile);
- after all thread counts: our conv time at 2 threads over our time at 1 thread, and
  a table of every case at every thread count, without and with the background load
  (ours and PyTorch's), with the load average each child saw when it started.

Targets (issues 13 and 20): every conv case at most 1.25x PyTorch's time at 1 and 2
threads and the geometric mean at most 1.0x at 1 thread; the many-channel cases
(C >= 32) at least 70% of the matmul's GFLOP/s, and in float32 at 2 threads at most
0.6x their 1-thread time; max pooling at most 2x; the float32 epoch at least 0.9x
PyTorch's images/s at 1 thread and 0.8x at 2 threads. Issue 29: our time at 2 threads
never above our time at 1 thread, idle or loaded, for every conv case and the epoch; the
float32 epoch at 2 threads at least 1.3x our own images/s at 1 thread and 0.8x PyTorch's
when idle, and 0.7x PyTorch's beside one busy process.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _blas  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--threads", default="1,2",
                    help="comma-separated thread counts for NumPy's BLAS and PyTorch (default 1,2)")
parser.add_argument("--repeats", type=int, default=15, help="timed repeats per conv and pool case")
parser.add_argument("--train-images", type=int, default=2000,
                    help="training images for the one-epoch ConvNet comparison")
parser.add_argument("--epoch-repeats", type=int, default=3, help="timed epochs per implementation")
parser.add_argument("--parts", default="conv,pool,epoch",
                    help="comma-separated parts to run: conv, pool, epoch")
parser.add_argument("--forced-kernel", action="store_true",
                    help="also run with this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE "
                         "(by default they are removed, as users do not set them)")
parser.add_argument("--profile", action="store_true",
                    help="print where our float32 epoch spends its time (cProfile) even when "
                         "it meets its target (it is printed whenever it misses it)")
parser.add_argument("--background-load", type=int, default=0, metavar="N",
                    help="also run every thread count beside N busy processes (default 0: "
                         "only the machine as it is)")
parser.add_argument("--load-seconds", type=float, default=1800,
                    help="longest a busy process runs before stopping by itself (default 1800)")
parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
parser.add_argument("--setting", default="", help=argparse.SUPPRESS)
parser.add_argument("--results", default="", help=argparse.SUPPRESS)
args = parser.parse_args()

MANY_CHANNELS = 32
SCALING_TARGET = 0.6


def verdict(met):
    return "met" if met else "NOT met"


def scaling_table(setting, results):
    """Our conv times at the highest thread count over those at 1 thread, from the children."""
    counts = sorted(int(count) for count in results)
    if 1 not in counts or len(counts) < 2 or "conv" not in results["1"]:
        return
    most = counts[-1]
    print(f"Scaling, {setting}: our conv forward + backward at {most} threads over 1 thread "
          f"(target for the many-channel float32 cases at 2 threads <= {SCALING_TARGET}x)")
    worst = 0.0
    for label, (one_thread, channels, dtype, _) in results["1"]["conv"].items():
        all_threads = results[str(most)]["conv"][label][0]
        ratio = all_threads / one_thread
        targeted = most == 2 and channels >= MANY_CHANNELS and dtype == "float32"
        if targeted:
            worst = max(worst, ratio)
        print(f"  {label:<42}{one_thread * 1e3:8.2f} ms -> {all_threads * 1e3:8.2f} ms"
              f"{ratio:6.2f}x{'  (target)' if targeted else ''}")
    if most == 2:
        print(f"  target <= {SCALING_TARGET}x: {'met' if worst <= SCALING_TARGET else 'NOT met'} "
              f"(worst {worst:.2f}x)")
    print()


def rows_of(result):
    """(label, ours, PyTorch's, unit, higher is better) for every case a child measured."""
    rows = [(label, ours * 1e3, theirs * 1e3, "ms", False)
            for part in ("conv", "pool") for label, (ours, *_, theirs) in result.get(part, {}).items()]
    rows += [(f"epoch {name} (images/s)", ours, theirs, "img/s", True)
             for name, (ours, theirs) in result.get("epoch", {}).items()]
    return rows


def load_table(setting, runs):
    """Every case at every thread count and load, ours and PyTorch's, and issue 29's targets.

    runs maps (busy processes, thread count) to a child's results.
    """
    columns = sorted(runs)
    print(f"Threads and background load, {setting}: median ms (conv, pool) or images/s "
          "(epoch); ours / PyTorch's")
    print(f"{'':<44}" + "".join(f"{f'{count} thr, {busy} busy':>18}" for busy, count in columns))
    print(f"{'load average (1 min) at the start':<44}"
          + "".join(f"{runs[column]['load_average']:>18.2f}" for column in columns))
    labels = [row[0] for row in rows_of(runs[columns[0]])]
    table = {column: {row[0]: row for row in rows_of(runs[column])} for column in columns}
    for label in labels:
        print(f"{label:<44}" + "".join(
            f"{table[column][label][1]:>9.1f}/{table[column][label][2]:<8.1f}" for column in columns))
    loads = sorted({busy for busy, _ in columns})
    if not all((busy, count) in runs for busy in loads for count in (1, 2)):
        print()
        return
    worst = max(((table[(busy, 2)][label][1] / table[(busy, 1)][label][1]) ** (
        -1 if table[(busy, 1)][label][4] else 1), label, busy) for busy in loads for label in labels)
    print(f"  target ours at 2 threads never slower than at 1 (every case, each load): "
          f"{verdict(worst[0] <= 1.0)} (worst {worst[0]:.2f}x the 1-thread time: "
          f"{worst[1]}, {worst[2]} busy)")
    epoch = "epoch float32 (images/s)"
    if epoch in labels:
        idle_one, idle_two = table[(0, 1)][epoch], table[(0, 2)][epoch]
        print(f"  target idle epoch at 2 threads >= 1.3x ours at 1 thread: "
              f"{verdict(idle_two[1] >= 1.3 * idle_one[1])} ({idle_two[1] / idle_one[1]:.2f}x); "
              f">= 0.8x PyTorch's at 2 threads: {verdict(idle_two[1] >= 0.8 * idle_two[2])} "
              f"({idle_two[1] / idle_two[2]:.2f}x)")
        for busy in loads[1:]:
            loaded = table[(busy, 2)][epoch]
            print(f"  target epoch at 2 threads beside {busy} busy >= 0.7x PyTorch's: "
                  f"{verdict(loaded[1] >= 0.7 * loaded[2])} ({loaded[1] / loaded[2]:.2f}x)")
    print()


# A busy process: one core's worth of pure Python, until the benchmark stops it or its
# time is up.
BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end: pass"


def run_child(count, setting, environment, busy):
    """One child at count threads beside busy processes; returns its results or None."""
    loaders = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(args.load_seconds)])
               for _ in range(busy)]
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as results_file:
            label = setting + (f", {busy} busy process{'es' * (busy > 1)} beside it" if busy else "")
            command = [sys.executable, os.path.abspath(__file__), "--child", "--threads",
                       count, "--repeats", str(args.repeats), "--train-images",
                       str(args.train_images), "--epoch-repeats", str(args.epoch_repeats),
                       "--parts", args.parts, "--setting", label,
                       "--results", results_file.name] + ["--profile"] * args.profile
            result = subprocess.run(command, env=environment)
            if result.returncode:
                sys.exit(result.returncode)
            return json.load(open(results_file.name)) if os.path.getsize(results_file.name) else None
    finally:
        for loader in loaders:
            loader.kill()
            loader.wait()


if not args.child:
    # One child per setting, load and thread count: BLAS reads its thread count and kernel
    # when NumPy is imported.
    settings = [("user's default BLAS", _blas.users_environment())]
    if args.forced_kernel:
        settings.append((f"forced kernel ({_blas.forced_kernel_settings()})", dict(os.environ)))
    loads = [0] + [args.background_load] * (args.background_load > 0)
    for setting, environment in settings:
        runs = {}
        for busy in loads:
            for count in args.threads.split(","):
                result = run_child(count, setting, environment, busy)
                if result:
                    runs[busy, int(count)] = result
                print()
        scaling_table(setting, {str(count): result for (busy, count), result in runs.items()
                                if busy == 0})
        if runs:
            load_table(setting, runs)
    sys.exit(0)

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = args.threads

import time  # noqa: E402
import tracemalloc  # noqa: E402

# Before NumPy, as the notebooks do: the package sets how idle BLAS and OpenMP threads
# wait before either library is loaded (cs231n/__init__.py).
import cs231n  # noqa: E402,F401
import numpy as np  # noqa: E402

# Before torch: fast_layers sets OpenMP's passive waiting before OpenMP is loaded, which
# torch (loading the same libgomp) would otherwise do first, with spinning idle threads.
from cs231n import fast_layers  # noqa: E402
from cs231n.classifiers.cnn import ThreeLayerConvNet  # noqa: E402
from cs231n.solver import Solver  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

THREADS = int(args.threads)
torch.set_num_threads(THREADS)

CONV_CASES = [  # (N, C, H=W, F, k, stride, pad, dtype)
    (100, 3, 31, 25, 3, 2, 1, np.float64),
    (50, 3, 32, 32, 7, 1, 3, np.float64),
    (50, 3, 32, 32, 7, 1, 3, np.float32),  # ThreeLayerConvNet's first layer
    (64, 64, 16, 64, 3, 1, 1, np.float32),
    (50, 32, 16, 32, 3, 1, 1, np.float32),
    (50, 64, 8, 64, 3, 1, 1, np.float32),
    (50, 32, 31, 64, 3, 2, 1, np.float32),  # stride 2, 31x31 -> 16x16
]
POOL_CASES = [(100, 3, 32), (50, 32, 32)]  # (N, C, H=W), 2x2 windows, stride 2, float64
EPOCH_TARGETS = {1: 0.9, 2: 0.8}  # float32 epoch, fraction of PyTorch's images/s
# The machine's noise: how much PyTorch's own times varied (highest / lowest) per case.
torch_variation = []
# What the parent's tables read: each part's medians, and the load the child started in.
results = {"load_average": os.getloadavg()[0]}


def alternate(functions, repeats):
    """Seconds of each function per repeat, calling them in turn after one warm-up each."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, record in zip(functions, times):
            start = time.perf_counter()
            function()
            record.append(time.perf_counter() - start)
    return [np.array(record) for record in times]


def spread(ours, theirs):
    """Lowest and highest per-repeat ratio: how much the noise moves a single measurement."""
    ratios = ours / theirs
    return f"{ratios.min():.2f}-{ratios.max():.2f}"


def with_fallback(function):
    """Run function with the NumPy fallback in place of the compiled kernels."""
    def run():
        with fast_layers.numpy_fallback():
            function()
    return run


def peak_megabytes(function):
    """Peak memory NumPy allocates while function runs (what it returns included)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


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
        return fast_layers.conv_backward_fast(dout, cache)

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdout = torch.tensor(dout)

    def theirs():
        for tensor in (tx, tw, tb):
            tensor.grad = None
        F.conv2d(tx, tw, tb, stride=stride, padding=pad).backward(tdout)

    field_size = channels * k * k
    columns = num_samples * out.shape[2] * out.shape[3]
    a = rng.standard_normal((num_filters, field_size)).astype(dtype)
    c = rng.standard_normal((field_size, columns)).astype(dtype)

    def matmul():
        np.matmul(a, c)

    theirs()
    tolerance = 1e-3 if dtype == np.float32 else 1e-9
    for ours_grad, torch_grad in zip(ours(), (tx.grad, tw.grad, tb.grad)):
        reference = torch_grad.numpy()
        assert np.abs(ours_grad - reference).max() <= tolerance * np.abs(reference).max()
    fallback = with_fallback(ours)
    times = alternate([ours, theirs, matmul, fallback], repeats)
    flops = 6 * num_filters * field_size * columns
    return times, flops, peak_megabytes(ours)


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

    return alternate([ours, theirs], repeats)


def make_torch_convnet(weight_scale, hidden_dim, dtype):
    """The same architecture as ThreeLayerConvNet, initialized the same way."""
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


def torch_epoch(data, weight_scale, hidden_dim, reg, batch_size, dtype):
    """One epoch of Adam in dtype, with the Solver's accuracy checks before and after."""
    torch.manual_seed(0)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    model = make_torch_convnet(weight_scale, hidden_dim, torch_dtype)
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


def conv_table():
    print("Convolution forward + backward (median ms over the repeats; spread = lowest-highest "
          "per-repeat ratio)")
    print(f"{'case (N, C, H, F, k, stride, pad, dtype)':<42}{'ours':>8}{'torch':>8}{'ratio':>7}"
          f"{'spread':>11}{'GFLOP/s':>9}{'matmul':>8}{'eff.':>6}{'peak MB':>9}"
          f"{'fallback':>10}{'ratio':>7}")
    ratios, efficiencies, slow_cases = [], [], []
    results["conv"] = {}
    for case in CONV_CASES:
        (ours, theirs, matmul, fallback), flops, peak = bench_conv(*case, repeats=args.repeats)
        ours_s, theirs_s = np.median(ours), np.median(theirs)
        torch_variation.append(theirs.max() / theirs.min())
        matmul_rate = flops / 3 / np.median(matmul) / 1e9
        rate = flops / ours_s / 1e9
        ratios.append(ours_s / theirs_s)
        efficiency = rate / matmul_rate
        if case[1] >= MANY_CHANNELS:
            efficiencies.append((case, efficiency))
        label = str(case[:-1] + (np.dtype(case[-1]).name,)).replace("'", "")
        results["conv"][label] = [ours_s, case[1], np.dtype(case[-1]).name, theirs_s]
        if ours_s / theirs_s > 1.25:
            slow_cases.append((label, ours_s, theirs_s, 3 * np.median(matmul)))
        print(f"{label:<42}{ours_s * 1e3:8.2f}{theirs_s * 1e3:8.2f}{ours_s / theirs_s:6.2f}x"
              f"{spread(ours, theirs):>11}{rate:9.1f}{matmul_rate:8.1f}{efficiency:6.0%}"
              f"{peak:9.1f}{np.median(fallback) * 1e3:10.2f}{np.median(fallback) / theirs_s:6.2f}x")
    geometric_mean = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean of ratios: {geometric_mean:.2f}x")
    if THREADS in (1, 2):
        print(f"  target every case <= 1.25x: {verdict(max(ratios) <= 1.25)} "
              f"(worst {max(ratios):.2f}x)")
    for label, ours_s, theirs_s, products_s in slow_cases:
        # Where the time of a case over the target goes: its three matrix products at the
        # rate of one plain NumPy matmul of the same sizes, and everything else (lowering,
        # layout changes, the bias, Python).
        print(f"    {label}: the 3 products at the plain matmul's rate take "
              f"{products_s * 1e3:.2f} ms ({products_s / theirs_s:.2f}x PyTorch's whole "
              f"conv), the rest {max(ours_s - products_s, 0) * 1e3:.2f} ms")
    if THREADS == 1:
        print(f"  target geometric mean <= 1.0x: {verdict(geometric_mean <= 1.0)}")
    worst = min(efficiency for _, efficiency in efficiencies)
    print(f"  target many-channel cases (C >= {MANY_CHANNELS}) >= 70% of the matmul's GFLOP/s: "
          f"{verdict(worst >= 0.7)} (lowest {worst:.0%})\n")


def pool_table():
    print("Max pool 2x2 stride 2, forward + backward, float64 (median ms)")
    results["pool"] = {}
    for case in POOL_CASES:
        ours, theirs = bench_pool(*case, repeats=args.repeats)
        results["pool"][f"pool {case}"] = [np.median(ours), np.median(theirs)]
        torch_variation.append(theirs.max() / theirs.min())
        ratio = np.median(ours) / np.median(theirs)
        print(f"{str(case):<42}{np.median(ours) * 1e3:8.2f}{np.median(theirs) * 1e3:8.2f}"
              f"{ratio:6.2f}x{spread(ours, theirs):>11}  target <= 2x: {verdict(ratio <= 2)}")
    print()


def epoch_table():
    rng = np.random.default_rng(2)
    num_val = max(args.train_images // 5, 100)
    images = {
        "X_train": rng.standard_normal((args.train_images, 3, 32, 32)),
        "y_train": rng.integers(10, size=args.train_images),
        "X_val": rng.standard_normal((num_val, 3, 32, 32)),
        "y_val": rng.integers(10, size=num_val),
    }
    settings = dict(weight_scale=1e-3, hidden_dim=500, reg=1e-3, batch_size=50)
    print(f"One epoch of ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001), "
          f"Adam, batch 50, {args.train_images} training and {num_val} validation images, "
          f"accuracy checks included; images/s, median of {args.epoch_repeats} epochs, "
          "alternating; both sides get the data in the dtype they train in")
    for dtype in (np.float32, np.float64):
        data = {name: value.astype(dtype) if name.startswith("X") else value
                for name, value in images.items()}
        ours, theirs = alternate([lambda: our_epoch(data, dtype=dtype, **settings),
                                  lambda: torch_epoch(data, dtype=dtype, **settings)],
                                 args.epoch_repeats)
        ours_rate = args.train_images / np.median(ours)
        theirs_rate = args.train_images / np.median(theirs)
        name = np.dtype(dtype).name
        results.setdefault("epoch", {})[name] = [ours_rate, theirs_rate]
        line = (f"  {name}: ours {ours_rate:7.1f}, PyTorch {theirs_rate:7.1f}: "
                f"{ours_rate / theirs_rate:.2f}x PyTorch's images/s (spread "
                f"{spread(theirs, ours)})")
        target_missed = False
        if dtype == np.float32 and THREADS in EPOCH_TARGETS:
            target = EPOCH_TARGETS[THREADS]
            target_missed = ours_rate / theirs_rate < target
            line += f"; target >= {target}x: {verdict(not target_missed)}"
        else:
            line += " (reference only)"
        print(line)
        if target_missed or (args.profile and dtype == np.float32):
            profile_epoch(images, settings)


# Who owns the code an epoch runs, by file: the student's files, our fast layers and the
# rest. A function's own time includes the NumPy ufuncs and BLAS products it calls, which
# cProfile does not see as functions.
PROFILE_GROUPS = (
    ("student code: layers.py, optim.py, classifiers/cnn.py", ("cs231n/layers.py", "cs231n/optim.py",
                                                              "cs231n/classifiers/")),
    ("Solver bookkeeping (solver.py, checkpoint/options modules)", ("cs231n/solver",
                                                                    "cs231n/checkpoint.py")),
    ("fast layers (fast_layers.py with its BLAS products and kernels)", ("cs231n/fast_layers.py",
                                                                          "im2col_cython")),
    ("layer_utils sandwiches", ("cs231n/layer_utils.py",)),
)


def profile_epoch(images, settings):
    """cProfile of one of our float32 epochs: own time by owner, then the top functions."""
    import cProfile
    import pstats
    data = {name: value.astype(np.float32) if name.startswith("X") else value
            for name, value in images.items()}
    profiler = cProfile.Profile()
    profiler.runcall(our_epoch, data, dtype=np.float32, **settings)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    owners = {label: 0.0 for label, _ in PROFILE_GROUPS}
    other = 0.0
    for (filename, _, function), (_, _, own_time, _, _) in stats.stats.items():
        # Compiled functions have no file; their name says where they come from.
        path = f"{filename.replace(os.sep, '/')}:{function}"
        label = next((label for label, parts in PROFILE_GROUPS if any(part in path for part in parts)),
                     None)
        if label is None:
            other += own_time
        else:
            owners[label] += own_time
    total = sum(owners.values()) + other
    print(f"\nWhere our float32 epoch spends its time at {THREADS} thread(s) (cProfile, own time "
          f"of each function, {total:.2f} s in all):")
    for label, seconds in [*owners.items(), ("everything else: NumPy's Python-level helpers, "
                                             "data batching, the profiler", other)]:
        print(f"  {seconds / total:6.1%}  {label}")
    print("Top 12 functions by own time:")
    stats.sort_stats("tottime").print_stats(12)


def kernels_description():
    if not fast_layers.compiled_kernels_available():
        return "NO (NumPy fallback)"
    from cs231n import im2col_cython
    return "yes, OpenMP" if im2col_cython.built_with_openmp else "yes, serial (no OpenMP)"


def main():
    print(f"{_blas.blas_line()} [{args.setting or 'this environment'}]; load average "
          f"{' '.join(f'{load:.2f}' for load in os.getloadavg())} at the start")
    print(f"=== threads: {THREADS} (NumPy BLAS, our kernels and torch.set_num_threads), "
          f"repeats: {args.repeats}, torch {torch.__version__}, numpy {np.__version__}, "
          f"compiled kernels: {kernels_description()}")
    parts = args.parts.split(",")
    if "conv" in parts:
        conv_table()
    if "pool" in parts:
        pool_table()
    if torch_variation:
        print(f"Machine noise: PyTorch's own time varied (slowest / fastest repeat) by "
              f"{np.median(torch_variation):.2f}x in the median case, "
              f"{max(torch_variation):.2f}x at worst\n")
    if "epoch" in parts:
        epoch_table()
    if args.results:
        with open(args.results, "w") as file:
            json.dump(results, file)


if __name__ == "__main__":
    main()
