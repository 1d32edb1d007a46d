/* test_lower.c: the lowering decisions, read from the lowered program
 * (never from emitted text): for a given op and target, which kernel lower()
 * chooses and the reason it stores for --explain; and that a command lowers
 * its model exactly once. */
#include "testutil.h"
#include "kernels/kernel.h"

/* Lower spec text on a target; the model is kept in *m. */
static void lower_text(const char *text, Target t, KernelSet set, Model *m,
                       Program *p) {
  Diag d;
  int r = run_spec_text("t.lua", text, &d, m);
  if (r) fail_msg("spec does not load: %s", d.text.s ? d.text.s : "");
  diag_free(&d);
  lower(m, t, set, p);
}

typedef struct Want {
  const char *spec;   /* the model's layers after `input = ...,` */
  const char *input;
  int op;             /* which op to look at */
  const char *kernel; /* the kernel lower() must choose */
  const char *why;    /* a piece of its reason */
  KernelSet set;
  Target target;      /* generic when not given */
} Want;

static const Want wants[] = {
    /* A small 1-D model: the whole program takes the vector lowering. */
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 0, "vec1d",
     "vector: whole model channels-last", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 1, "vec1d", "fused into l0_conv1d", KERNELS_FAST, TARGET_GENERIC},
    /* Too large for it: the blocked convolution, with its interior. */
    {"nn.Conv1d{8, 32, 5}", "{1, 8, 8000}", 0, "conv-blocked",
     "blocked: 16 output channels x 16 positions", KERNELS_FAST, TARGET_GENERIC},
    /* A constant padding that only adds: fills and row copies; a crop
     * or a reflection: the index tables of the reference. */
    {"nn.ZeroPad2d{{1, 1, 4, 5}}", "{1, 1, 49, 10}", 0, "pad-runs",
     "runs: per row the constant, the input row, the constant",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.ConstantPad1d{{2, 0}, 0.5}", "{1, 9, 128}", 0, "pad-runs", "runs",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.ZeroPad2d{{-1, 1, 0, 0}}", "{1, 1, 4, 10}", 0, "pad-copy",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.ReflectionPad1d{2}", "{1, 3, 10}", 0, "pad-copy",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.ZeroPad2d{{1, 1, 4, 5}}", "{1, 1, 49, 10}", 0, "pad-copy",
     "loops over the output", KERNELS_REFERENCE, TARGET_GENERIC},
    /* 3 or 5 taps, stride 1, 32 input and output channels or more,
     * output channels a multiple of 16, enough tiles to fill groups of
     * 16: Winograd's F(4, 3) or F(2, 5); too few tiles, a stride, a
     * dilation, fewer channels, or a Cortex-M target: blocked. */
    {"nn.Conv1d{32, 32, 5}", "{1, 32, 8000}", 0, "conv-winograd1d",
     "winograd: F(2, 5), 3998 tiles of 2 outputs in groups of 16, 6 "
     "multiply-adds per tile and channel pair instead of 10", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv1d{64, 64, 3, padding = 1}", "{1, 64, 1024}", 0,
     "conv-winograd1d", "F(4, 3), 256 tiles of 4 outputs", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv1d{64, 64, 3, padding = 1}", "{1, 64, 12}", 0, "conv-blocked",
     "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{64, 64, 3, padding = 1, stride = 2}", "{1, 64, 1024}", 0,
     "conv-blocked", "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{64, 64, 3, padding = 2, dilation = 2}", "{1, 64, 1024}", 0,
     "conv-blocked", "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{16, 64, 3, padding = 1}", "{1, 16, 1024}", 0,
     "conv-blocked", "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{64, 16, 3, padding = 1}", "{1, 64, 1024}", 0,
     "conv-blocked", "blocked", KERNELS_FAST, TARGET_GENERIC},
    /* 256 input channels at most: the transforms' rounding grows with
     * the sum */
    {"nn.Conv1d{256, 32, 3, padding = 1}", "{1, 256, 256}", 0,
     "conv-winograd1d", "F(4, 3)", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{272, 32, 3, padding = 1}", "{1, 272, 256}", 0,
     "conv-blocked", "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{64, 24, 3, padding = 1}", "{1, 64, 1024}", 0, "conv-blocked",
     "blocked", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{64, 64, 3, padding = 1}", "{1, 64, 1024}", 0, "conv-regs",
     "", KERNELS_FAST, TARGET_CORTEX_M4},
    /* A 1x1 convolution: a matrix multiply, positions in the vectors,
     * or channels in the vectors on a small plane; a plane of under 4
     * positions stays blocked. */
    {"nn.Conv2d{64, 64, 1}", "{1, 64, 25, 5}", 0, "conv-pointwise",
     "pointwise: a matrix multiply [64 out][64 in] x [64 in][125 positions], "
     "tiles of 16 channels x 16 positions (in the vectors)", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{128, 128, 1}", "{1, 128, 6, 6}", 0, "conv-pointwise",
     "tiles of 16 channels (in the vectors) x up to 16 positions",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{16, 24, 1}", "{1, 16, 1, 3}", 0, "conv-blocked", "blocked",
     KERNELS_FAST, TARGET_GENERIC},
    /* A depthwise convolution: one sum per output over wide rows; with
     * a stride of 2, over the stride phases' rows (below). */
    {"nn.Conv2d{4, 4, 3, groups = 4}", "{1, 4, 40, 40}", 0, "conv-depthwise",
     "each output one sum of its 9 taps over rows as wide", KERNELS_FAST, TARGET_GENERIC},
    /* stride 1 and output rows as wide as the input's, or stride 2 of an
     * even plane: over the flattened plane (or its 4 stride phases), any
     * number of channels; 32 outputs or more (64 with a stride), up to 256
     * or a row's lanes lining up again within 8 vectors (24 columns: 3) */
    {"nn.Conv2d{64, 64, 3, padding = 1, groups = 64}", "{1, 64, 25, 5}", 0,
     "conv-depthwise", "the plane flattened", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{24, 24, 3, padding = 1, groups = 24}", "{1, 24, 25, 5}", 0,
     "conv-depthwise", "the plane flattened", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, padding = 1, groups = 8}", "{1, 8, 16, 16}", 0,
     "conv-depthwise", "the plane flattened", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, padding = 1, groups = 8}", "{1, 8, 4, 8}", 0,
     "conv-depthwise", "the plane flattened", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{64, 64, 3, padding = 1, groups = 64}", "{1, 64, 24, 24}", 0,
     "conv-depthwise", "the plane flattened (where the compiler targets "
     "AVX-512)", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, padding = 1, groups = 8}", "{1, 8, 17, 16}", 0,
     "conv-depthwise", "the plane flattened", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{16, 16, 3, stride = 2, padding = 1, groups = 16}",
     "{1, 16, 48, 48}", 0, "conv-depthwise", "as its 4 stride phases",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{16, 16, 3, stride = 2, padding = 1, groups = 16}",
     "{1, 16, 16, 16}", 0, "conv-depthwise", "as its 4 stride phases",
     KERNELS_FAST, TARGET_GENERIC},
    /* else narrow output rows and channels a multiple of 16: the channels
     * in the AVX-512 lanes (stride 2 to 6 x 6; rows narrower than the
     * input's; under 32 outputs); wide rows (25 columns: lanes lining up
     * every 25 vectors), an odd plane with a stride, or 24 channels, keep
     * the wide rows */
    {"nn.Conv2d{64, 64, 3, stride = 2, padding = 1, groups = 64}",
     "{1, 64, 12, 12}", 0, "conv-depthwise", "16 channels in the vector lanes",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{64, 64, 3, groups = 64}", "{1, 64, 25, 5}", 0,
     "conv-depthwise", "16 channels in the vector lanes", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{64, 64, 3, padding = 1, groups = 64}", "{1, 64, 3, 3}", 0,
     "conv-depthwise", "16 channels in the vector lanes", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, padding = 1, groups = 8}", "{1, 8, 20, 25}", 0,
     "conv-depthwise", "rows as wide as the padded ones", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, stride = 2, padding = 1, groups = 8}",
     "{1, 8, 17, 16}", 0, "conv-depthwise", "rows as wide as a phase's",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, dilation = 6, padding = 6, groups = 8}",
     "{1, 8, 24, 24}", 0, "conv-depthwise", "rows as wide as the padded ones",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{24, 24, 3, stride = 2, padding = 1, groups = 24}",
     "{1, 24, 25, 5}", 0, "conv-depthwise", "rows as wide as a phase's",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv1d{4, 4, 5, groups = 4}", "{1, 4, 40}", 0, "conv-depthwise",
     "each output one sum of its 5 taps", KERNELS_FAST, TARGET_GENERIC},
    /* A stride along the rows of a 2-D one: blocked over the stride
     * phases of the zero-padded input when its output rows fill tiles of
     * 16, else over planes copied per tap column (so are short rows of
     * stride 1); dilated, the strided input copied once, then a matrix
     * multiply; with one output channel per group a depthwise one over
     * the stride phases (up to 2), else direct. */
    {"nn.Conv2d{16, 32, 3, stride = 2, padding = 1}", "{1, 16, 32, 32}", 0,
     "conv-blocked", "over 16 interior outputs, the zero-padded input split "
     "into stride phases", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{1, 64, {10, 4}, stride = 2, padding = {5, 1}}",
     "{1, 1, 49, 10}", 0, "conv-blocked",
     "the zero-padded input copied per tap column, so tiles run over rows "
     "after rows", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{64, 64, 3, padding = 1}", "{1, 64, 7, 7}", 0, "conv-blocked",
     "the zero-padded input copied per tap column", KERNELS_FAST,
     TARGET_GENERIC},
    /* 3 x 3, stride 1, 16 input channels or more, even outputs in whole
     * groups of 16 tiles: Winograd's F(2 x 2, 3 x 3); fewer input
     * channels, or tiles that do not fill groups: blocked. */
    {"nn.Conv2d{16, 32, 3, padding = 1}", "{1, 16, 32, 32}", 0,
     "conv-winograd", "winograd: F(2 x 2, 3 x 3), 256 tiles of 2 x 2 "
     "outputs in groups of 16", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{64, 64, 3, padding = 1}", "{1, 64, 8, 8}", 0,
     "conv-winograd", "16 tiles of 2 x 2 outputs", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{3, 16, 3, padding = 1}", "{1, 3, 32, 32}", 0, "conv-blocked",
     "zero padding written out first", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{16, 16, 3, padding = 1}", "{1, 16, 6, 6}", 0, "conv-blocked",
     "copied per tap column", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{16, 16, 3, padding = 1}", "{1, 16, 32, 32}", 0,
     "reference-conv", "reference", KERNELS_REFERENCE, TARGET_GENERIC},
    {"nn.Conv2d{16, 32, 1, groups = 2}", "{1, 16, 14, 14}", 0,
     "conv-blocked", "rows laid out as wide as the input's", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{2, 16, 3, stride = 2, dilation = 2}", "{1, 2, 20, 20}", 0,
     "conv-im2col", "im2col: the input under each tap copied once as [18 "
     "taps][64 positions]", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, stride = 2, groups = 8}", "{1, 8, 20, 20}", 0,
     "conv-depthwise", "zero padding as its 4 stride phases", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv2d{8, 8, 3, stride = 3, groups = 8}", "{1, 8, 20, 20}", 0,
     "conv-direct", "too few outputs or output channels", KERNELS_FAST, TARGET_GENERIC},
    /* Conv3d: a matrix multiply over the input copied per tap, with 8
     * or 16 output channels a block; other counts, or groups: direct. */
    {"nn.Conv3d{2, 8, 3}", "{1, 2, 6, 6, 6}", 0, "conv-im2col",
     "as [54 taps][16 positions] per output plane, then a matrix "
     "multiply in blocks of 8 output channels", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv3d{2, 8, 3}", "{1, 2, 6, 10, 10}", 0, "conv-im2col",
     "[64 positions] per output plane, then a matrix multiply in blocks "
     "of 8 output channels x 32 positions", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv3d{2, 4, 3}", "{1, 2, 6, 6, 6}", 0, "conv-direct",
     "the 3-D matrix multiply (im2col) needs one group", KERNELS_FAST,
     TARGET_GENERIC},
    {"nn.Conv3d{4, 16, 3, groups = 2}", "{1, 4, 6, 6, 6}", 0, "conv-direct",
     "output channels in multiples of 8", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Conv3d{4, 16, 3, padding = 1, padding_mode = \"reflect\"}",
     "{1, 4, 6, 6, 6}", 0, "conv-direct", "im2col", KERNELS_FAST,
     TARGET_GENERIC},
    /* Linear (too large for the vector lowering): few outputs a dot
     * product each, else an axpy (below 8 rows). */
    {"nn.Linear{30000, 10}", "{2, 30000}", 0, "linear-dot",
     "dot: 10 outputs, each a dot product of 30000", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{1024, 300}", "{2, 1024}", 0, "linear-axpy",
     "axpy: each input feature adds its row of 300", KERNELS_FAST, TARGET_GENERIC},
    /* A batch of 8 or more rows: blocked matrix multiplies, also where
     * the model is small enough for the vector lowering, and for few
     * outputs (masked lanes; blocks of 16 rows up to 16 outputs). */
    {"nn.Linear{1024, 300}", "{32, 1024}", 0, "linear-gemm",
     "gemm: 32 rows x 300 outputs in register blocks of 8 x 32",
     KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{640, 128}, nn.ReLU{}, nn.Linear{128, 8}", "{32, 640}", 0,
     "linear-gemm", "gemm: 32 rows x 128 outputs", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{640, 128}, nn.ReLU{}, nn.Linear{128, 8}", "{32, 640}", 1,
     "linear-gemm", "gemm: 32 rows x 8 outputs in register blocks of 16 x "
     "16 (lanes past the outputs masked)", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{640, 128}, nn.ReLU{}, nn.Linear{128, 20}", "{8, 640}", 1,
     "linear-gemm",
     "gemm: 8 rows x 20 outputs in register blocks of 8 x 32 (lanes past "
     "the outputs masked)", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{30000, 10}", "{8, 30000}", 0, "linear-gemm",
     "register blocks of 8 x 16 (lanes past", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Linear{640, 128}, nn.ReLU{}, nn.Linear{128, 16}", "{32, 640}", 1,
     "linear-gemm",
     "register blocks of 16 x 16, each", KERNELS_FAST, TARGET_GENERIC},
    /* Pools: windows inside the input unroll their taps. */
    {"nn.MaxPool2d{2}", "{1, 3, 32, 32}", 0, "pool-inside",
     "per output: every window is inside the input", KERNELS_FAST, TARGET_GENERIC},
    {"nn.MaxPool2d{3, padding = 1}", "{1, 3, 32, 32}", 0, "pool-taps",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AdaptiveAvgPool2d{1}", "{1, 3, 32, 32}", 0, "adaptive-loops",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AdaptiveAvgPool2d{1}", "{2, 24, 7, 7}", 0, "adaptive-loops",
     "one sum per plane, 16 planes side by side", KERNELS_FAST,
     TARGET_GENERIC},
    /* An AvgPool whose window is the whole plane: one sum per plane, when
     * there are 16 planes or more, no padding and one window. */
    {"nn.AvgPool2d{{25, 5}}", "{1, 64, 25, 5}", 0, "pool-plane",
     "the window is the whole plane", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AvgPool1d{9, ceil_mode = true}", "{2, 8, 9}", 0, "pool-plane",
     "the window is the whole plane", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AvgPool2d{{25, 5}}", "{1, 8, 25, 5}", 0, "pool-taps",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AvgPool2d{{25, 5}, padding = {1, 1}}", "{1, 64, 25, 5}", 0,
     "pool-taps", "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.AvgPool2d{{5, 5}}", "{1, 64, 25, 5}", 0, "pool-taps",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.MaxPool2d{{25, 5}}", "{1, 64, 25, 5}", 0, "pool-taps",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    /* A BatchNorm with no Conv or Linear before it runs on its own. */
    {"nn.BatchNorm2d{3}", "{2, 3, 8, 8}", 0, "batchnorm-loops",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Softmax{dim = 1}", "{2, 10}", 0, "softmax-loops",
     "loops over the output", KERNELS_FAST, TARGET_GENERIC},
    /* Activations of the model's input, and a model of no-ops. */
    {"nn.ReLU{}", "{2, 10}", 0, "map", "elementwise", KERNELS_FAST, TARGET_GENERIC},
    {"nn.Identity{}", "{2, 10}", 0, "map", "copy", KERNELS_FAST, TARGET_GENERIC},
    /* --kernels reference: the naive lowering of each kind, the small
     * 1-D model included; the kinds with one lowering keep it. */
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 0, "reference-conv",
     "reference: one output at a time", KERNELS_REFERENCE, TARGET_GENERIC},
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 1, "reference-pool",
     "reference: one output at a time over its window", KERNELS_REFERENCE, TARGET_GENERIC},
    {"nn.Linear{30000, 10}", "{2, 30000}", 0, "reference-linear",
     "a sum over the inputs in order", KERNELS_REFERENCE, TARGET_GENERIC},
    {"nn.Softmax{dim = 1}", "{2, 10}", 0, "softmax-loops",
     "loops over the output", KERNELS_REFERENCE, TARGET_GENERIC},
    /* --target cortex-m*: no whole-program vector lowering; tiles of 4
     * channels x 4 positions in scalar locals (16 of FPv4-SP's 32 single
     * registers), fmaf where there is an FPU, plain float on the M0. */
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 0, "conv-regs",
     "registers: 4 output channels x 4 positions in 16 float locals, fmaf "
     "(one vfma each), taps unrolled, over 18 interior outputs; the max "
     "pool after it fused", KERNELS_FAST, TARGET_CORTEX_M4},
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 1, "conv-regs",
     "fused into l0_conv1d", KERNELS_FAST, TARGET_CORTEX_M4},
    {"nn.Conv1d{1, 8, 3}, nn.ReLU{}, nn.MaxPool1d{2}, nn.Flatten{}, "
     "nn.Linear{8 * 9, 2}", "{1, 1, 20}", 2, "linear-regs",
     "registers: blocks of 2 outputs in float locals, each input loaded "
     "once, 16 inputs a step unrolled, acc + w * x (no FPU)", KERNELS_FAST,
     TARGET_CORTEX_M0},
    {"nn.Conv2d{3, 6, 5}", "{1, 3, 32, 32}", 0, "conv-regs",
     "4 output channels x 4 positions in 16 float locals, fmaf", KERNELS_FAST,
     TARGET_CORTEX_M7},
    /* a stride along x, or a 3 x 3 one Winograd would take: the
     * registers too, not the generic kernels */
    {"nn.Conv2d{16, 16, 3, padding = 1}", "{1, 16, 32, 32}", 0, "conv-regs",
     "registers: 4 output channels x 4 positions", KERNELS_FAST,
     TARGET_CORTEX_M4},
    {"nn.Conv2d{16, 32, 3, stride = 2, padding = 1}", "{1, 16, 32, 32}", 0,
     "conv-regs", "registers: 4 output channels x 4 positions",
     KERNELS_FAST, TARGET_CORTEX_M4},
    /* a long kernel: unrolled in chunks; padding: the border direct */
    {"nn.Conv1d{1, 8, 80, stride = 16, padding = 8}", "{1, 1, 4000}", 0,
     "conv-regs", "taps unrolled in chunks, over 245 interior outputs, "
     "direct loops on the border", KERNELS_FAST, TARGET_CORTEX_M4},
    /* a pool with overlapping windows is not fused */
    {"nn.Conv1d{1, 8, 3}, nn.MaxPool1d{3, stride = 1}", "{1, 1, 20}", 1,
     "pool-inside", "per output", KERNELS_FAST, TARGET_CORTEX_M4},
    /* no interior output: the direct loops */
    {"nn.Conv1d{1, 1, 5, padding = 4}", "{1, 1, 3}", 0, "conv-direct",
     "no output reads only inside the input, as the register tiles need",
     KERNELS_FAST, TARGET_CORTEX_M4},
    {"nn.Conv3d{1, 2, 5, padding = 4}", "{1, 1, 3, 3, 3}", 0, "conv-direct",
     "no output reads only inside the input, as the register tiles need",
     KERNELS_FAST, TARGET_CORTEX_M4},
    /* 3-D: tiles along the rows of each depth slice; 27 taps unrolled,
     * 3 x 5 x 5 a slice at a time, the border slices direct */
    {"nn.Conv3d{2, 4, 3}", "{1, 2, 6, 6, 6}", 0, "conv-regs",
     "taps unrolled, over 64 interior outputs", KERNELS_FAST,
     TARGET_CORTEX_M4},
    {"nn.Conv3d{2, 6, {3, 5, 5}, padding = {1, 2, 2}}", "{1, 2, 4, 8, 8}", 0,
     "conv-regs", "taps unrolled in chunks, over 32 interior outputs, "
     "direct loops on the border", KERNELS_FAST, TARGET_CORTEX_M0},
    /* the reference set is the same on every target */
    {"nn.Linear{30000, 10}", "{2, 30000}", 0, "reference-linear",
     "a sum over the inputs in order", KERNELS_REFERENCE, TARGET_CORTEX_M4},
};

static void test_lower_chooses_and_says_why(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++) {
    const Want *w = &wants[i];
    char *text = mc_format("return model \"t\" { input = %s, %s }", w->input,
                           w->spec);
    Model m;
    Program p;
    lower_text(text, w->target, w->set, &m, &p);
    assert_true(w->op < p.nops);
    const Op *op = &p.ops[w->op];
    /* a fused op is computed by the kernel of the op before it */
    const Kernel *k = op->fused ? op[-1].kernel : op->kernel;
    if (strcmp(k->name, w->kernel) != 0 || !strstr(op->why, w->why))
      fail_msg("%s on %s: op %d is %s (%s); want %s (%s)", w->spec,
               target_names[w->target], w->op, k->name, op->why, w->kernel,
               w->why);
    program_free(&p);
    model_free(&m);
    free(text);
  }
}

/* A BatchNorm after a Conv is folded into it: no op of its own. */
static void test_lower_folds_batchnorm(void **state) {
  (void)state;
  Model m;
  Program p;
  lower_text("return model \"t\" { input = {1, 16, 8000}, "
             "nn.Conv1d{16, 32, 5}, nn.BatchNorm1d{32}, nn.ReLU{} }",
             TARGET_GENERIC, KERNELS_FAST, &m, &p);
  assert_int_equal(p.nops, 1);
  assert_ptr_equal(p.ops[0].bn, &m.layers[1]);
  assert_int_equal(p.ops[0].nact, 1);
  program_free(&p);
  model_free(&m);
  /* After a Flatten the channels are not the conv's: not folded. */
  lower_text("return model \"t\" { input = {2, 4, 3}, nn.Conv1d{4, 4, 1}, "
             "nn.Flatten{}, nn.BatchNorm1d{12} }",
             TARGET_GENERIC, KERNELS_FAST, &m, &p);
  assert_int_equal(p.nops, 2);
  assert_null(p.ops[0].bn);
  assert_string_equal(p.ops[1].kernel->name, "batchnorm-loops");
  program_free(&p);
  model_free(&m);
}

/* check, build and run each lower the model once: the driver's line is
 * the only caller, and emitting or JIT-compiling never lowers again. */
static void test_lower_runs_once_per_command(void **state) {
  (void)state;
  for (int cmd = 0; cmd < 3; cmd++) { /* check, build, run */
    Diag d = {0};
    Limits lim = {0};
    Model m;
    Program p;
    assert_int_equal(spec_load("specs/lenet5.lua", &lim, &d, &m), 0);
    assert_int_equal(shape_infer(&m, &d), 0);
    int before = mc_lower_runs;
    CompileOptions o = {TARGET_GENERIC, KERNELS_FAST, cmd > 0, NULL};
    assert_int_equal(compile_model(&m, &o, &p, &d), 0);
    if (cmd == 1) {
      Generated g;
      EmitOptions eo = {.version = "test"};
      emit_program(&p, &eo, &g);
      generated_free(&g);
    } else if (cmd == 2) {
      JitModel jm;
      assert_int_equal(jit_program(&p, &jm, &d), 0);
      jit_model_free(&jm);
    }
    assert_int_equal(mc_lower_runs - before, 1);
    program_free(&p);
    model_free(&m);
    diag_free(&d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lower_chooses_and_says_why),
      cmocka_unit_test(test_lower_folds_batchnorm),
      cmocka_unit_test(test_lower_runs_once_per_command),
  };
  return cmocka_run_group_tests_name("lower", tests, NULL, NULL);
}
