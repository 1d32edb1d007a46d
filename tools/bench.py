#!/usr/bin/python3
"""make bench: modelc's generated C against ONNX Runtime and PyTorch, on one core.

    /usr/bin/python3 tools/bench.py [MODELC] [--rounds N] [--only NAME,...]

For each benchmark model (specs/NAME.lua) at batch 1 and batch 32:

  1. writes build/bench/NAME_b1.lua and NAME_b32.lua (the spec with the
     batch dimension of `input` and the model name replaced) and builds
     each with `modelc build` into build/bench/;
  2. compiles the generated C with gcc -O3 -march=native together with
     tools/bench_shim.c into a shared library and loads it with ctypes;
     also times `gcc -O2 -c` of the batch-1 file and reports the object's
     size (text + data) and the workspace bytes;
  3. runs the same C under TinyCC: `modelc run VARIANT --repeat N --quiet`;
  4. if /usr/bin/python3 has torch: builds the same nn.Sequential (from
     `modelc check`, via tools/gen_spec_refs.py), eager and TorchScript
     (torch.jit.freeze(torch.jit.script(m))), one thread, no_grad;
  5. if ONNX Runtime is there (and torch, to export): exports that module
     with torch.onnx.export (opset 13, fixed shapes) to build/bench/, opens
     it in ONNX Runtime through its C API (tools/ort_bench.c, loaded with
     ctypes: 1 intra-op and 1 inter-op thread, sequential execution,
     ORT_ENABLE_ALL, telemetry off, preallocated input and output values)
     and checks that its output agrees with PyTorch's and modelc's;
  6. times modelc, ONNX Runtime, eager and TorchScript in interleaved
     rounds in this one process, so that their ratios survive a noisy
     machine;
  7. measures the single-core FMA peak with tools/peak.c and shows every
     latency also as GFLOP/s (2 * MACs / time) and as % of that peak;
  8. times `modelc build` and `gcc -O2 -c` of the largest example spec;
  9. times the whole process to first output: `modelc run` of two specs
     against `python3 -c "import torch; ...; print(model(x))"`.

Batch-32 figures are per sample (the time of one batch-32 call / 32).
Nothing here asserts a timing; the targets are printed with met/not met,
and the issue-15 targets that were missed are listed at the end.

Installs: ONNX Runtime only. Its CPU library comes from the npm package
onnxruntime-node (no C header; tools/ort_bench.c declares what it uses):
when build/ort/ has no libonnxruntime.so.1 and npm is on the PATH, the
bench runs ORT_INSTALL below (into build/ort/, never committed); without
npm it prints that command and the ORT columns say "not installed".
ORT_LIB=/path/libonnxruntime.so.1 uses another copy. PyTorch is never
installed: without torch its columns say so, and with Debian's reference
BLAS in place of OpenBLAS a warning names the package to install.
"""
import ctypes
import glob
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BENCH = os.path.join("build", "bench")
MODELS = ["seed_cnn1d", "cnn1d_class", "m5_kws", "lenet5", "wide_conv1d",
          "ds_cnn_kws", "mobilenet_v1_025", "har_cnn1d", "fc_autoencoder"]
BATCHES = [1, 32]
# Issue 4's targets for TorchScript time / modelc time at batch 1.
TARGETS = {"seed_cnn1d": 500, "cnn1d_class": 150, "m5_kws": 3, "lenet5": 6,
           "wide_conv1d": 1.2}
# Issue 15's targets: ONNX Runtime time / modelc time, every model and batch;
# % of the FMA peak at batch 1; TinyCC time / gcc time (modelc run's JIT);
# the build of the largest spec (1.3 M parameters).
ORT_TARGET = 1.5
PEAK_TARGETS = {"m5_kws": 85.0, "wide_conv1d": 85.0}
JIT_TARGETS = {"m5_kws": 10.0, "lenet5": 10.0, "wide_conv1d": 10.0}
BIG_SPEC = "wide_conv_stack"
BIG_BUILD_S, BIG_GCC_S = 0.5, 2.0
# Time to first output of `modelc run SPEC`, whole process, in ms.
TTFO = [("seed_cnn1d", 10.0), ("m5_kws", 25.0)]
# ONNX Runtime: the CPU library of the npm package onnxruntime-node,
# installed into build/ort (never committed) when npm is there.
ORT_VERSION = "1.31.1"
ORT_DIR = os.path.join("build", "ort")
ORT_INSTALL = ("mkdir -p %s && cd %s && ONNXRUNTIME_NODE_INSTALL=skip "
               "npm install onnxruntime-node@%s" % (ORT_DIR, ORT_DIR, ORT_VERSION))
ROUND_S = 0.0025      # each implementation's share of one round, seconds
ROUNDS = 30           # rounds per model and batch (fewer for slow ones)
CONFIG_BUDGET_S = 6.0  # rough cap on one model-and-batch's timed rounds
TTFO_RUNS = 20
TTFO_TORCH_RUNS = 3

torch = None
nn = None
ort = None


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          cwd=ROOT, **kw).stdout


# ----------------------------------------------------------------- units --

def fmt_time(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return "%.0f ns" % ns if ns >= 100 else "%.1f ns" % ns
    if ns < 1e6:
        us = ns / 1e3
        return "%.0f us" % us if us >= 100 else ("%.1f us" % us if us >= 10 else "%.2f us" % us)
    ms = ns / 1e6
    return "%.0f ms" % ms if ms >= 100 else ("%.1f ms" % ms if ms >= 10 else "%.2f ms" % ms)


def fmt_ratio(r):
    if r is None:
        return "n/a"
    if r >= 100:
        return "%.0f" % r
    if r >= 10:
        return "%.1f" % r
    return "%.2f" % r


def fmt_gflops(g):
    if g is None:
        return "-"
    return "%.1f" % g if g >= 1 else "%.2f" % g


def fmt_pct(p):
    if p is None:
        return "-"
    return "%.1f%%" % p if p >= 1 else "%.2f%%" % p


def table(headers, rows, right=None):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    right = right if right is not None else set(range(2, len(headers)))
    def line(cells):
        out = []
        for i, c in enumerate(cells):
            c = str(c)
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(out).rstrip()
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


# --------------------------------------------------------------- machine --

def machine():
    model = "?"
    try:
        for l in run(["lscpu"]).splitlines():
            if l.startswith("Model name:"):
                model = l.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    gcc = run(["gcc", "--version"]).splitlines()[0]
    return model, os.cpu_count(), gcc


def avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read().replace("\n", " ")
    except OSError:
        return False


def peak():
    """Single-core FP32 peak from tools/peak.c; also checks it uses FMAs."""
    exe = os.path.join(BENCH, "peak")
    flags = ["-O3", "-march=native", "-ffp-contract=fast", "-std=c99"]
    reg = "ymm"
    if avx512():
        flags.append("-mprefer-vector-width=512")
        reg = "zmm"
    run(["gcc"] + flags + ["tools/peak.c", "-o", exe])
    dis = run(["objdump", "-d", "--no-show-raw-insn", exe])
    nfma = len(re.findall(r"vfmadd\w*ps\s+[^\n]*%" + reg, dis))
    out = run([os.path.join(ROOT, exe)])
    g = float(re.search(r"peak: ([0-9.]+) GFLOP/s", out).group(1))
    note = "%d vfmadd..ps on %s, gcc %s" % (nfma, reg, " ".join(flags))
    if reg == "zmm":
        # gcc -march=native on these CPUs prefers 256-bit vectors by default,
        # and so does the generated code compiled below: show that peak too.
        exe256 = exe + "256"
        run(["gcc", "-O3", "-march=native", "-mno-avx512f", "-ffp-contract=fast",
             "-std=c99", "tools/peak.c", "-o", exe256])
        out = run([os.path.join(ROOT, exe256)])
        g256 = float(re.search(r"peak: ([0-9.]+) GFLOP/s", out).group(1))
        note += "; with 256-bit vectors only: %.1f GFLOP/s" % g256
    return g, note


# --------------------------------------------------------------- variants --

def make_variant(name, batch):
    text = open(os.path.join(ROOT, "specs", name + ".lua")).read()
    vname = "%s_b%d" % (name, batch)
    text, n1 = re.subn(r'model\s*"%s"' % re.escape(name), 'model "%s"' % vname, text, count=1)
    text, n2 = re.subn(r"(input\s*=\s*\{\s*)\d+", lambda m: m.group(1) + str(batch), text, count=1)
    if n1 != 1 or n2 != 1:
        raise SystemExit("bench: cannot rewrite specs/%s.lua (model name or input)" % name)
    spec = os.path.join(BENCH, vname + ".lua")
    with open(os.path.join(ROOT, spec), "w") as f:
        f.write(text)
    return vname, spec


def macs_of(check_text):
    m = re.search(r"^total: .*?([0-9,]+) MACs", check_text, re.M)
    return int(m.group(1).replace(",", ""))


class Variant:
    pass


def build_variant(modelc, name, batch):
    v = Variant()
    v.name, v.batch = name, batch
    v.vname, v.spec = make_variant(name, batch)
    v.check = run([modelc, "check", v.spec])
    v.macs = macs_of(v.check)
    run([modelc, "build", v.spec, "-o", BENCH])
    v.c = os.path.join(BENCH, v.vname + ".c")
    v.so = os.path.join(BENCH, v.vname + ".so")
    run(["gcc", "-O3", "-march=native", "-std=c99", "-shared", "-fPIC",
         "-I" + BENCH, "-DMODEL=" + v.vname, "-DUMODEL=" + v.vname.upper(),
         v.c, "tools/bench_shim.c", "-o", v.so, "-lm"])
    lib = ctypes.CDLL(os.path.join(ROOT, v.so))
    lib.mc_bench.restype = ctypes.c_double
    lib.mc_bench.argtypes = [ctypes.c_long]
    for f in ("mc_input_size", "mc_output_size", "mc_workspace_size"):
        getattr(lib, f).restype = ctypes.c_long
        getattr(lib, f).argtypes = []
    lib.mc_set_input.argtypes = [ctypes.c_void_p]
    lib.mc_get_output.argtypes = [ctypes.c_void_p]
    v.lib = lib
    v.workspace = lib.mc_workspace_size()
    return v


def compile_stats(v):
    """gcc -O2 -c time (median of up to 3) and the object's text + data."""
    obj = os.path.join(BENCH, v.vname + ".o")
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        run(["gcc", "-O2", "-std=c99", "-c", v.c, "-o", obj])
        times.append(time.perf_counter() - t0)
        if times[-1] > 1.0:
            break
    out = run(["size", obj]).splitlines()[1].split()
    return statistics.median(times), int(out[0]) + int(out[1])


def tinycc(modelc, v):
    """Median per call from `modelc run --repeat N --quiet`, in ns."""
    def once(n):
        out = run([modelc, "run", v.spec, "--repeat", str(n), "--quiet"])
        m = re.search(r"(\d+) runs: median ([0-9.]+) us per inference", out)
        return float(m.group(2)) * 1e3
    t1 = once(1)
    if t1 > 0.1e9:
        return t1, 1
    n = int(min(20000, max(5, 0.4e9 / max(t1, 1.0))))
    return once(n), n


# --------------------------------------------------------------- timing --

def calibrate(fn):
    """fn(k) runs k iterations and returns elapsed ns; K for ~ROUND_S."""
    fn(1)  # warm up
    k = 1
    while True:
        ns = fn(k)
        if ns >= 0.4e6 or k >= 1 << 24:
            break
        k *= 4 if ns < 0.1e6 else 2
    per = ns / k
    return max(1, int(ROUND_S * 1e9 / per)), per


def torch_runner(m, x):
    def fn(k):
        with torch.no_grad():
            t0 = time.perf_counter_ns()
            for _ in range(k):
                m(x)
            return time.perf_counter_ns() - t0
    return fn


def time_config(v, rounds):
    """Interleaved rounds of modelc (gcc), ONNX Runtime, eager and
    TorchScript. Returns per-call medians in ns: {'modelc': .., 'ort': ..,
    'eager': .., 'ts': ..}."""
    impls = [("modelc", lambda k: v.lib.mc_bench(k))]
    if getattr(v, "ort", None) is not None:
        impls.append(("ort", lambda k: ort.lib.ort_bench(v.ort, k)))
    if torch is not None:
        impls.append(("eager", torch_runner(v.eager, v.x)))
        impls.append(("ts", torch_runner(v.ts, v.x)))
    ks, est = {}, 0.0
    for key, fn in impls:
        ks[key], per = calibrate(fn)
        est += ks[key] * per
    rounds = max(7, min(rounds, int(CONFIG_BUDGET_S * 1e9 / max(est, 1.0))))
    samples = {key: [] for key, _ in impls}
    for _ in range(rounds):
        for key, fn in impls:
            samples[key].append(fn(ks[key]) / ks[key])
    res = {key: statistics.median(s) for key, s in samples.items()}
    # Each peer's ratio to modelc within a round, then the median of those:
    # on a loaded machine, slow phases that last a few rounds hit both
    # sides of one round alike.
    for key in samples:
        res["ratio_" + key] = statistics.median(
            p / m for p, m in zip(samples[key], samples["modelc"]))
    res["rounds"] = rounds
    return res


def torch_models(v):
    from gen_spec_refs import model_from_check
    shape, m = model_from_check(v.check)
    m = m.eval()
    torch.manual_seed(0)
    x = torch.randn(*shape)
    with torch.no_grad():
        ts = torch.jit.freeze(torch.jit.script(m))
        for _ in range(20):
            ts(x)
        y = m(x)
    v.eager, v.ts, v.x, v.y = m, ts, x, y
    # The generated C on the same input should give the same output.
    xc = x.contiguous()
    v.lib.mc_set_input(ctypes.c_void_p(xc.data_ptr()))
    v.lib.mc_bench(1)
    out = torch.empty(v.lib.mc_output_size(), dtype=torch.float32)
    v.lib.mc_get_output(ctypes.c_void_p(out.data_ptr()))
    ref = y.reshape(-1).float()
    v.agrees = bool(torch.allclose(out, ref, rtol=1e-3, atol=1e-4))
    v.maxdiff = float((out - ref).abs().max())


def blas_state():
    """Which BLAS torch has mapped: Debian's reference libblas3 makes small
    batch-1 convolutions several times slower than OpenBLAS."""
    libs = set()
    with open("/proc/self/maps") as f:
        for l in f:
            p = l.split()[-1] if len(l.split()) >= 6 else ""
            if "blas" in os.path.basename(p) or "openblas" in p:
                libs.add(os.path.realpath(p))
    if any("openblas" in p for p in libs):
        return "OpenBLAS", sorted(libs), False
    if any("/blas/libblas" in p for p in libs):
        return "reference BLAS (Debian libblas3)", sorted(libs), True
    return "no BLAS library mapped", sorted(libs), False


# ------------------------------------------------------------ ONNX Runtime --

class Ort:
    pass


def ort_library():
    """libonnxruntime.so.1: $ORT_LIB if set, else the one for this machine
    inside build/ort's onnxruntime-node package (None if neither)."""
    env = os.environ.get("ORT_LIB")
    if env:
        return env if os.path.isfile(env) else None
    arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    hits = sorted(glob.glob(os.path.join(ROOT, ORT_DIR, "node_modules", "onnxruntime-node", "bin",
                                         "napi-v*", "linux", arch, "libonnxruntime.so.1")))
    return hits[-1] if hits else None


def ort_install():
    """npm install onnxruntime-node into build/ort; returns None or why not."""
    if shutil.which("npm") is None:
        return "no npm"
    log("bench: installing ONNX Runtime: " + ORT_INSTALL)
    os.makedirs(os.path.join(ROOT, ORT_DIR), exist_ok=True)
    # Its install script would download GPU binaries; the CPU library is in
    # the package itself.
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "onnxruntime-node@" + ORT_VERSION],
                       cwd=os.path.join(ROOT, ORT_DIR), env=env, capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout or "").strip().splitlines()
        return "npm install failed%s" % (": " + lines[-1] if lines else "")
    return None


def ort_setup():
    """Loads ONNX Runtime through tools/ort_bench.c. Returns (Ort or None,
    the line to print after "ONNX Runtime: ")."""
    lib = ort_library()
    if lib is None:
        if os.environ.get("ORT_LIB"):
            return None, "not installed (ORT_LIB=%s is not a file)" % os.environ["ORT_LIB"]
        why = ort_install()
        lib = ort_library() if why is None else None
        if lib is None:
            return None, "not installed (%s; install with: %s)" % (
                why or "the package has no libonnxruntime.so.1 for " + platform.machine(),
                ORT_INSTALL)
    if torch is None:
        return None, ("found %s, not timed: the ONNX models are exported with PyTorch, "
                      "which is not installed" % os.path.relpath(lib, ROOT))
    so = os.path.join(ORT_DIR, "ort_bench.so")
    os.makedirs(os.path.join(ROOT, ORT_DIR), exist_ok=True)
    run(["gcc", "-O2", "-std=c99", "-shared", "-fPIC", "tools/ort_bench.c", "-o", so, "-ldl"])
    c = ctypes.CDLL(os.path.join(ROOT, so))
    c.ort_error.restype = ctypes.c_char_p
    c.ort_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    c.ort_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int,
                           ctypes.c_void_p, ctypes.c_int]
    c.ort_run.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    c.ort_bench.restype = ctypes.c_double
    c.ort_bench.argtypes = [ctypes.c_int, ctypes.c_long]
    buf = ctypes.create_string_buffer(64)
    api = c.ort_load(lib.encode(), buf, 64)
    if api == 0:
        return None, "cannot be used: %s" % c.ort_error().decode()
    o = Ort()
    o.lib, o.path, o.version, o.api = c, lib, buf.value.decode(), api
    return o, ("%s through its C API (version %d; %s), 1 intra-op and 1 inter-op thread, "
               "sequential, ORT_ENABLE_ALL, telemetry off, preallocated input and output"
               % (o.version, api, os.path.relpath(lib, ROOT)))


def ort_model(ort, v):
    """Exports v's PyTorch model to ONNX (opset 13, fixed shapes), opens an
    ORT session on it and checks its output against PyTorch's and modelc's.
    Sets v.ort (the session handle, or None) and v.ort_note."""
    v.ort, v.ort_note = None, None
    path = os.path.join(ROOT, BENCH, v.vname + ".onnx")
    with torch.no_grad():
        torch.onnx.export(v.eager, v.x, path, opset_version=13,
                          input_names=["input"], output_names=["output"])
    ins, outs = list(v.x.shape), list(v.y.shape)
    h = ort.lib.ort_open(path.encode(), (ctypes.c_int64 * len(ins))(*ins), len(ins),
                         (ctypes.c_int64 * len(outs))(*outs), len(outs))
    if h < 0:
        v.ort_note = "ORT cannot run %s: %s" % (os.path.basename(path), ort.lib.ort_error().decode())
        return
    xc = v.x.contiguous()
    out = torch.empty(v.y.numel(), dtype=torch.float32)
    if ort.lib.ort_run(h, ctypes.c_void_p(xc.data_ptr()), ctypes.c_void_p(out.data_ptr())):
        v.ort_note = "ORT fails on %s: %s" % (v.vname, ort.lib.ort_error().decode())
        return
    mc = torch.empty(v.lib.mc_output_size(), dtype=torch.float32)
    v.lib.mc_get_output(ctypes.c_void_p(mc.data_ptr()))  # from torch_models' run
    ref = v.y.reshape(-1).float()
    v.ort_maxdiff = max(float((out - ref).abs().max()), float((out - mc).abs().max()))
    if not (torch.allclose(out, ref, rtol=1e-3, atol=1e-4) and
            torch.allclose(out, mc, rtol=1e-3, atol=1e-4)):
        v.ort_note = "ORT's output differs on %s (max |diff| %.3g): not timed" % (
            v.vname, v.ort_maxdiff)
        return
    v.ort = h


# ------------------------------------------------------------ big build --

def big_build(modelc):
    """The build of the largest example spec: `modelc build` wall time and
    `gcc -O2 -c` time of its C (medians of 3), its parameters and C size."""
    spec = os.path.join("specs", BIG_SPEC + ".lua")
    out = os.path.join(BENCH, "big")
    os.makedirs(os.path.join(ROOT, out), exist_ok=True)
    params = int(re.search(r"^total: ([0-9,]+) parameters", run([modelc, "check", spec]),
                           re.M).group(1).replace(",", ""))
    tb = []
    for _ in range(3):
        t0 = time.perf_counter()
        run([modelc, "build", spec, "-o", out])
        tb.append(time.perf_counter() - t0)
    c = os.path.join(out, BIG_SPEC + ".c")
    tg = []
    for _ in range(3):
        t0 = time.perf_counter()
        run(["gcc", "-O2", "-std=c99", "-c", c, "-o", os.path.join(out, BIG_SPEC + ".o")])
        tg.append(time.perf_counter() - t0)
    return params, os.path.getsize(os.path.join(ROOT, c)), statistics.median(tb), statistics.median(tg)


# ---------------------------------------------------- time to first output --

def proc_ms(cmd, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def torch_script_text(check_text):
    shape = [int(s) for s in re.search(r"input \[([0-9, ]+)\]", check_text).group(1).split(",")]
    seed = re.search(r"seed (-?\d+)", check_text)
    seed = int(seed.group(1)) if seed else 0
    layers = []
    row = re.compile(r"^\s+(\d+)\s+(\S+)\s+([A-Za-z0-9]+\(.*?\))\s+\[")
    for line in check_text.splitlines():
        m = row.match(line)
        if m:
            layers.append("nn." + m.group(3))
    return ("import torch\nfrom torch import nn\ntorch.manual_seed(%d)\n"
            "model = nn.Sequential(%s).eval()\ntorch.manual_seed(0)\n"
            "with torch.no_grad():\n    print(model(torch.randn(%s)))\n"
            % (seed, ", ".join(layers), ", ".join(map(str, shape))))


# ------------------------------------------------------------------ main --

def met(ok):
    return "met" if ok else "NOT met"


def main(argv):
    global torch, nn, ort
    args = argv[1:]
    rounds = ROUNDS
    only = None
    modelc = os.path.join("build", "modelc")
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = int(args.pop(0))
        elif a == "--only":
            only = args.pop(0).split(",")
        else:
            modelc = a
    modelc = os.path.join(ROOT, modelc) if not os.path.isabs(modelc) else modelc
    models = [m for m in MODELS if only is None or m in only]
    sys.stdout.reconfigure(line_buffering=True)
    os.makedirs(os.path.join(ROOT, BENCH), exist_ok=True)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    t_start = time.time()

    # One core: OpenBLAS (if torch maps it) would otherwise start its own
    # threads, which torch.set_num_threads does not control.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch as _torch
        from torch import nn as _nn
        torch, nn = _torch, _nn
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    except ImportError:
        torch = None

    cpu, ncpu, gcc = machine()
    print("modelc bench: %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    print("machine: %s, %d cores (timings use one), %s" % (cpu, ncpu, gcc))
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    if torch is None:
        print("PyTorch: not installed (/usr/bin/python3 cannot import torch)")
    else:
        print("PyTorch: %s, 1 thread" % torch.__version__)
    ort, ort_line = ort_setup()
    print("ONNX Runtime: " + ort_line)

    log("bench: peak FLOP/s")
    pk, pk_note = peak()
    print("peak: %.1f GFLOP/s single-core FP32 (%s)" % (pk, pk_note))

    variants = {}
    for name in models:
        for b in BATCHES:
            log("bench: build %s batch %d" % (name, b))
            variants[(name, b)] = build_variant(modelc, name, b)

    blas_warn = False
    if torch is not None:
        for v in variants.values():
            log("bench: PyTorch model %s" % v.vname)
            torch_models(v)
        blas, libs, blas_warn = blas_state()
        print("PyTorch BLAS: %s%s" % (blas, (" (" + ", ".join(libs) + ")") if libs else ""))
        if blas_warn:
            print("WARNING: torch uses Debian's reference BLAS, not OpenBLAS: its small "
                  "batch-1 convolutions are several times slower than they should be, "
                  "which flatters modelc. The bench does not install it: "
                  "apt-get install libopenblas0-pthread")
        bad = [v.vname for v in variants.values() if not v.agrees]
        if not bad:
            print("modelc's output (gcc -O3) matches PyTorch's on the same input for all "
                  "%d variants (rtol 1e-3, atol 1e-4)" % len(variants))
        else:
            print("WARNING: modelc (gcc -O3) output differs from PyTorch for: %s"
                  % ", ".join("%s (max |diff| %.3g)" % (n, variants_by(variants, n).maxdiff) for n in bad))
    if ort is not None:
        for v in variants.values():
            log("bench: ONNX model %s" % v.vname)
            ort_model(ort, v)
        notes = [v.ort_note for v in variants.values() if v.ort_note]
        for n in notes:
            print("WARNING: " + n)
        if not notes:
            print("ONNX Runtime's output matches PyTorch's and modelc's for all %d variants "
                  "(torch.onnx.export, opset 13, fixed shapes; rtol 1e-3, atol 1e-4; "
                  "max |diff| %.3g)" % (len(variants), max(v.ort_maxdiff for v in variants.values())))

    results = {}
    for key, v in variants.items():
        log("bench: time %s" % v.vname)
        r = time_config(v, rounds)
        log("bench: TinyCC %s" % v.vname)
        r["tcc"], r["tcc_n"] = tinycc(modelc, v)
        results[key] = r

    # On a loaded machine one measurement of the peak can come out far too
    # low; the % peak columns use the better of two, before and after.
    log("bench: peak FLOP/s again")
    pk2, _ = peak()
    print("peak measured again after the timings: %.1f GFLOP/s" % pk2)
    pk = max(pk, pk2)
    print("  %% peak below is of %.1f GFLOP/s, the better of the two" % pk)

    missed = []  # issue 15's targets not met, as text
    na = "not installed"
    print()
    print("Ratios: peer time / modelc (gcc -O3 -march=native) time, the median of the rounds'")
    print("ratios; higher is better for modelc.")
    print("TinyCC/gcc: `modelc run`'s JIT time / modelc gcc time (medians), lower is better.")
    headers = ["model", "batch", "ORT/modelc", "target", "TS/modelc", "target",
               "eager/modelc", "TinyCC/gcc", "target"]
    rows = []
    for (name, b), v in variants.items():
        r = results[(name, b)]
        rt_ort = r.get("ratio_ort")
        rt_ts = r.get("ratio_ts")
        rt_eg = r.get("ratio_eager")
        rt_tcc = r["tcc"] / r["modelc"]
        t_ort = ">=%g" % ORT_TARGET
        if rt_ort is not None:
            t_ort += " " + met(rt_ort >= ORT_TARGET)
            if rt_ort < ORT_TARGET:
                missed.append("ORT/modelc %s batch %d: %s (target >= %g)"
                              % (name, b, fmt_ratio(rt_ort), ORT_TARGET))
        elif ort is None:
            missed.append("ORT/modelc %s batch %d: not measured" % (name, b))
        t_ts = ""
        if b == 1 and name in TARGETS:
            t_ts = ">=%g" % TARGETS[name]
            if rt_ts is not None:
                t_ts += " " + met(rt_ts >= TARGETS[name])
        t_tcc = ""
        if b == 1 and name in JIT_TARGETS:
            t_tcc = "<=%g %s" % (JIT_TARGETS[name], met(rt_tcc <= JIT_TARGETS[name]))
            if rt_tcc > JIT_TARGETS[name]:
                missed.append("TinyCC/gcc %s batch 1: %s (target <= %g)"
                              % (name, fmt_ratio(rt_tcc), JIT_TARGETS[name]))
        rows.append([name, str(b), fmt_ratio(rt_ort) if rt_ort is not None else "-", t_ort,
                     fmt_ratio(rt_ts) if rt_ts is not None else "-", t_ts,
                     fmt_ratio(rt_eg) if rt_eg is not None else "-", fmt_ratio(rt_tcc), t_tcc])
    table(headers, rows, right={1, 2, 4, 6, 7})

    print()
    print("Latency per sample (batch 32: one call / 32), median of interleaved rounds;")
    print("GFLOP/s = 2 x MACs / time, %% peak of %.1f GFLOP/s." % pk)
    headers = ["model", "batch", "modelc gcc", "TinyCC", "ORT", "TorchScript", "eager",
               "modelc GFLOP/s", "% peak", "target", "ORT GFLOP/s", "% peak",
               "TS GFLOP/s", "% peak"]
    rows = []
    for (name, b), v in variants.items():
        r = results[(name, b)]
        per = {k: (r[k] / b if k in r else None) for k in ("modelc", "tcc", "ort", "ts", "eager")}
        flop = 2.0 * v.macs / b  # per sample
        g = {k: (flop / t if t else None) for k, t in per.items()}
        pct = {k: (100 * x / pk if x else None) for k, x in g.items()}
        t_pk = ""
        if b == 1 and name in PEAK_TARGETS:
            t_pk = ">=%g%% %s" % (PEAK_TARGETS[name], met(pct["modelc"] >= PEAK_TARGETS[name]))
            if pct["modelc"] < PEAK_TARGETS[name]:
                missed.append("%% peak %s batch 1: %s (target >= %g%%)"
                              % (name, fmt_pct(pct["modelc"]), PEAK_TARGETS[name]))
        ort_na = "-" if ort is not None else na
        rows.append([name, str(b), fmt_time(per["modelc"]), fmt_time(per["tcc"]),
                     fmt_time(per["ort"]) if per["ort"] else ort_na,
                     fmt_time(per["ts"]) if per["ts"] else na,
                     fmt_time(per["eager"]) if per["eager"] else na,
                     fmt_gflops(g["modelc"]), fmt_pct(pct["modelc"]), t_pk,
                     fmt_gflops(g["ort"]), fmt_pct(pct["ort"]),
                     fmt_gflops(g["ts"]), fmt_pct(pct["ts"])])
    table(headers, rows, right=set(range(1, len(headers))) - {9})

    print()
    headers = ["model", "MACs (b1)", "params", "gcc -O2 -c", "object text+data",
               "workspace b1", "workspace b32", "rounds b1/b32", "TinyCC runs b1/b32"]
    rows = []
    for name in models:
        v1, v32 = variants[(name, 1)], variants[(name, 32)]
        log("bench: gcc -O2 -c %s" % v1.vname)
        ct, sz = compile_stats(v1)
        params = int(re.search(r"^total: ([0-9,]+) parameters", v1.check, re.M)
                     .group(1).replace(",", ""))
        rows.append([name, "{:,}".format(v1.macs), "{:,}".format(params),
                     "%.2f s" % ct if ct >= 1 else "%.0f ms" % (ct * 1e3),
                     "{:,} B".format(sz), "{:,} B".format(v1.workspace),
                     "{:,} B".format(v32.workspace),
                     "%d/%d" % (results[(name, 1)]["rounds"], results[(name, 32)]["rounds"]),
                     "%d/%d" % (results[(name, 1)]["tcc_n"], results[(name, 32)]["tcc_n"])])
    table(headers, rows, right=set(range(1, len(headers))))

    print()
    log("bench: build %s" % BIG_SPEC)
    params, csize, tb, tg = big_build(modelc)
    print("Build of the largest example, specs/%s.lua (%s parameters, %.1f MB of C), median of 3:"
          % (BIG_SPEC, "{:,}".format(params), csize / 1e6))
    print("  modelc build  %6.2f s (target < %g s %s)" % (tb, BIG_BUILD_S, met(tb < BIG_BUILD_S)))
    print("  gcc -O2 -c    %6.2f s (target < %g s %s)" % (tg, BIG_GCC_S, met(tg < BIG_GCC_S)))
    if tb >= BIG_BUILD_S:
        missed.append("modelc build %s: %.2f s (target < %g s)" % (BIG_SPEC, tb, BIG_BUILD_S))
    if tg >= BIG_GCC_S:
        missed.append("gcc -O2 -c %s: %.2f s (target < %g s)" % (BIG_SPEC, tg, BIG_GCC_S))

    print()
    print("Time to first output, whole process, median (stdout to /dev/null):")
    spawn = proc_ms(["/bin/true"], TTFO_RUNS)
    for name, target in TTFO:
        if name not in models and only is not None:
            continue
        spec = os.path.join("specs", name + ".lua")
        log("bench: time to first output %s" % name)
        ms = proc_ms([modelc, "run", spec], TTFO_RUNS)
        if ms > target:
            missed.append("time to first output %s: %.1f ms (target <= %g ms)" % (name, ms, target))
        line = "  %-12s modelc run %-22s %7.1f ms (of %d; target <= %g ms %s)" % (
            name, spec, ms, TTFO_RUNS, target, met(ms <= target))
        if torch is not None:
            code = torch_script_text(run([modelc, "check", spec]))
            tms = proc_ms(["/usr/bin/python3", "-c", code], TTFO_TORCH_RUNS)
            line += "; python3 + torch %.0f ms (of %d), %.0fx" % (tms, TTFO_TORCH_RUNS, tms / ms)
        else:
            line += "; python3 + torch: not installed"
        print(line)
    print("  (spawning /bin/true from Python: %.1f ms, included above)" % spawn)
    if blas_warn:
        print()
        print("WARNING: PyTorch used the reference BLAS (see above); its figures are too slow.")
    print()
    if missed:
        print("Issue 15 targets not met (%d):" % len(missed))
        for m in missed:
            print("  " + m)
    else:
        print("Issue 15 targets: all met")
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    print("bench took %.0f s" % (time.time() - t_start))
    return 0


def variants_by(variants, vname):
    for v in variants.values():
        if v.vname == vname:
            return v
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
