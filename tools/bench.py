#!/usr/bin/python3
"""make bench: modelc's generated C against PyTorch, on one core.

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
     (torch.jit.freeze(torch.jit.script(m))), one thread, no_grad, and
     times modelc, eager and TorchScript in interleaved rounds in this one
     process, so that their ratios survive a noisy machine;
  5. measures the single-core FMA peak with tools/peak.c and shows every
     latency also as GFLOP/s (2 * MACs / time) and as % of that peak;
  6. times the whole process to first output: `modelc run` of two specs
     against `python3 -c "import torch; ...; print(model(x))"`.

Batch-32 figures are per sample (the time of one batch-32 call / 32).
Nothing here asserts a timing; the targets are printed with met/not met.
Nothing is installed: without torch the PyTorch columns say so.
"""
import ctypes
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BENCH = os.path.join("build", "bench")
MODELS = ["seed_cnn1d", "cnn1d_class", "m5_kws", "lenet5", "wide_conv1d"]
BATCHES = [1, 32]
# The targets for TorchScript time / modelc time at batch 1.
TARGETS = {"seed_cnn1d": 500, "cnn1d_class": 150, "m5_kws": 3, "lenet5": 6,
           "wide_conv1d": 1.2}
# Time to first output of `modelc run SPEC`, whole process, in ms.
TTFO = [("seed_cnn1d", 10.0), ("m5_kws", 60.0)]
ROUND_S = 0.0025      # each implementation's share of one round, seconds
ROUNDS = 30           # rounds per model and batch (fewer for slow ones)
CONFIG_BUDGET_S = 6.0  # rough cap on one model-and-batch's timed rounds
TTFO_RUNS = 20
TTFO_TORCH_RUNS = 3

torch = None
nn = None


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
    """Interleaved rounds of modelc (gcc), eager and TorchScript.
    Returns per-call medians in ns: {'modelc': .., 'eager': .., 'ts': ..}."""
    impls = [("modelc", lambda k: v.lib.mc_bench(k))]
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
    v.eager, v.ts, v.x = m, ts, x
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

def main(argv):
    global torch, nn
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

    log("bench: peak FLOP/s")
    pk, pk_note = peak()
    print("peak: %.1f GFLOP/s single-core FP32 (%s)" % (pk, pk_note))
    print("  %% peak below is of %.1f GFLOP/s" % pk)

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
                  "which flatters modelc. Fix: apt-get install libopenblas0-pthread")
        bad = [v.vname for v in variants.values() if not v.agrees]
        if not bad:
            print("modelc's output (gcc -O3) matches PyTorch's on the same input for all "
                  "%d variants (rtol 1e-3, atol 1e-4)" % len(variants))
        else:
            print("WARNING: modelc (gcc -O3) output differs from PyTorch for: %s"
                  % ", ".join("%s (max |diff| %.3g)" % (n, variants_by(variants, n).maxdiff) for n in bad))

    results = {}
    for key, v in variants.items():
        log("bench: time %s" % v.vname)
        r = time_config(v, rounds)
        log("bench: TinyCC %s" % v.vname)
        r["tcc"], r["tcc_n"] = tinycc(modelc, v)
        results[key] = r

    print()
    print("Latency per sample (batch 32: one call / 32), median of interleaved rounds.")
    print("Ratios are PyTorch time / modelc (gcc -O3 -march=native) time: higher is better for modelc.")
    headers = ["model", "batch", "TS/modelc", "target", "eager/modelc", "modelc gcc",
               "TinyCC", "TorchScript", "eager", "modelc GFLOP/s", "% peak",
               "TS GFLOP/s", "% peak"]
    rows = []
    for (name, b), v in variants.items():
        r = results[(name, b)]
        mc = r["modelc"] / b
        tcc = r["tcc"] / b
        ts = r["ts"] / b if "ts" in r else None
        eg = r["eager"] / b if "eager" in r else None
        flop = 2.0 * v.macs / b  # per sample
        g_mc = flop / mc
        g_ts = flop / ts if ts else None
        ratio_ts = ts / mc if ts else None
        target = ""
        if b == 1 and name in TARGETS:
            t = TARGETS[name]
            target = ">=%g" % t
            if ratio_ts is not None:
                target += " met" if ratio_ts >= t else " NOT met"
        na = "not installed"
        rows.append([name, str(b), fmt_ratio(ratio_ts), target,
                     fmt_ratio(eg / mc if eg else None), fmt_time(mc), fmt_time(tcc),
                     fmt_time(ts) if ts else na, fmt_time(eg) if eg else na,
                     fmt_gflops(g_mc), fmt_pct(100 * g_mc / pk),
                     fmt_gflops(g_ts), fmt_pct(100 * g_ts / pk if g_ts else None)])
    table(headers, rows, right=set(range(1, len(headers))) - {3})

    print()
    headers = ["model", "MACs (b1)", "gcc -O2 -c", "object text+data", "workspace b1",
               "workspace b32", "rounds b1/b32", "TinyCC runs b1/b32"]
    rows = []
    for name in models:
        v1, v32 = variants[(name, 1)], variants[(name, 32)]
        log("bench: gcc -O2 -c %s" % v1.vname)
        ct, sz = compile_stats(v1)
        rows.append([name, "{:,}".format(v1.macs), "%.2f s" % ct if ct >= 1 else "%.0f ms" % (ct * 1e3),
                     "{:,} B".format(sz), "{:,} B".format(v1.workspace),
                     "{:,} B".format(v32.workspace),
                     "%d/%d" % (results[(name, 1)]["rounds"], results[(name, 32)]["rounds"]),
                     "%d/%d" % (results[(name, 1)]["tcc_n"], results[(name, 32)]["tcc_n"])])
    table(headers, rows, right=set(range(1, len(headers))))

    print()
    print("Time to first output, whole process, median (stdout to /dev/null):")
    spawn = proc_ms(["/bin/true"], TTFO_RUNS)
    for name, target in TTFO:
        if name not in models and only is not None:
            continue
        spec = os.path.join("specs", name + ".lua")
        log("bench: time to first output %s" % name)
        ms = proc_ms([modelc, "run", spec], TTFO_RUNS)
        mark = "met" if ms < target else "NOT met"
        line = "  %-12s modelc run %-22s %7.1f ms (of %d; target < %g ms %s)" % (
            name, spec, ms, TTFO_RUNS, target, mark)
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
    print("bench took %.0f s" % (time.time() - t_start))
    return 0


def variants_by(variants, vname):
    for v in variants.values():
        if v.vname == vname:
            return v
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
