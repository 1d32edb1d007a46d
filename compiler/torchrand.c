/*
 * torchrand.c - PyTorch 1.13's CPU random number generation, bit-exact.
 *
 * What PyTorch does (file names relative to pytorch/aten/src/ATen/):
 *
 *  - core/MT19937RNGEngine.h: a textbook 32-bit Mersenne Twister seeded
 *    with init_genrand (Knuth's 1812433253 recurrence) from the low 32 bits
 *    of the 64-bit seed.  CPUGeneratorImpl.cpp: random() is one draw,
 *    random64() is two draws, the first one giving the high half.
 *    set_current_seed() (torch.manual_seed) reseeds the engine and clears
 *    the cached normal samples.
 *
 *  - core/DistributionsHelper.h + core/TransformationHelper.h:
 *    uniform_real_distribution<float> takes one 32-bit draw and keeps its
 *    low 24 bits: x = (r & 0xffffff) * 2^-24 (exact in float), then
 *    returns x * (to - from) + from, all in float (dist_acctype<float> is
 *    float).  uniform_real_distribution<double> takes a 64-bit draw and
 *    keeps 53 bits.  normal_distribution<double> is Box-Muller on two
 *    double uniforms u1, u2: r = sqrt(-2 log(1 - u2)), theta = 2 pi u1;
 *    it returns r cos(theta) and caches r sin(theta) in the generator for
 *    the next call.
 *
 *  - native/cpu/DistributionTemplates.h (compiled once per CPU capability
 *    by native/cpu/DistributionKernels.cpp):
 *    uniform_kernel casts from/to to float and fills the tensor serially,
 *    in memory order, one 32-bit draw per element.
 *    normal_kernel: a contiguous float tensor with >= 16 elements goes to
 *    normal_fill (normal_fill_AVX2 in the AVX2 build): first n float
 *    uniforms, then Box-Muller on each block of 16 (elements j and j+8
 *    pair up, j < 8); if n % 16 != 0 the last 16 elements are redrawn (16
 *    more uniforms) and transformed again.  Smaller tensors take one
 *    normal_distribution<double> sample per element.
 *
 * Where the two CPU capabilities differ in the last bit:
 *
 *  - The AVX2 build is compiled with -mavx2 -mfma and GCC's default
 *    -ffp-contract=fast, so `x * (to - from) + from` in uniform_real is one
 *    fused multiply-add; the portable build rounds the product first.
 *    About half of all uniform_() values (hence of every default-initialised
 *    weight) differ by one ulp between the two.  Measured on torch 1.13:
 *    fmaf matches the AVX2 kernel on 100000/100000 values, the unfused form
 *    on 50714.
 *  - normal_fill_AVX2 computes log, sin and cos in float with
 *    native/cpu/avx_mathfun.h (Cephes polynomials, Pommier/Garberoglio), in
 *    which GCC fused every multiply whose only use is an add/sub (Horner
 *    steps, Cody-Waite reduction, ...).  We replay those operations one lane
 *    at a time with fmaf() where GCC fused and with forced float rounding
 *    where it did not.  The portable normal_fill_16 instead calls libm's
 *    logf, cosf, sinf and forms theta in double.
 *  - normal_distribution<double>'s final `val * std + mean` is fused in the
 *    AVX2 build (irrelevant for randn, where std = 1 and mean = 0).
 *
 * Bit-exactness needs IEEE float/double evaluated at their own precision
 * (FLT_EVAL_METHOD 0: any x86-64 or AArch64 compiler) and the same libm as
 * PyTorch for log, sin, cos (double; and logf, sinf, cosf on the portable
 * path): glibc's are what torch on Debian uses.  Products that PyTorch
 * rounds are forced through rnd() so that no compiler can contract them.
 */
#include "torchrand.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Float helpers                                                        */
/* ------------------------------------------------------------------ */

/* Round to float and stop the compiler from fusing this value into a later
 * add (GCC would with -ffp-contract=fast and FMA enabled). */
static float rnd(float x) {
  volatile float v = x;
  return v;
}

static double rnd_d(double x) {
  volatile double v = x;
  return v;
}

static uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ------------------------------------------------------------------ */
/* mt19937 (core/MT19937RNGEngine.h)                                    */
/* ------------------------------------------------------------------ */

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

/* mt19937::next_state(): regenerate all 624 words at once. */
static void mt_refill(TorchGen *g) {
  uint32_t *s = g->mt;
  for (unsigned k = 0; k < TR_MT_N; k++) {
    uint32_t y = (s[k] & MT_UPPER) | (s[(k + 1) % TR_MT_N] & MT_LOWER);
    uint32_t mag = (y & 1u) ? MT_MATRIX_A : 0u;
    s[k] = s[(k + MT_M) % TR_MT_N] ^ (y >> 1) ^ mag;
  }
  g->mt_next = 0;
}

/* mt19937::init_with_uint32(): only the low 32 bits of the seed count. */
void tr_seed(TorchGen *g, uint64_t seed) {
  g->mt[0] = (uint32_t)(seed & 0xffffffffu);
  for (unsigned j = 1; j < TR_MT_N; j++) {
    uint32_t p = g->mt[j - 1];
    g->mt[j] = 1812433253u * (p ^ (p >> 30)) + j;
  }
  g->mt_next = TR_MT_N; /* first draw refills */
  g->seed = seed;
  g->has_next_normal = 0; /* set_current_seed() resets the cache */
  g->next_normal = 0.0;
  g->cpu = TR_CPU_AVX2;
}

/* mt19937::operator(): next word, tempered. */
uint32_t tr_random32(TorchGen *g) {
  if (g->mt_next >= TR_MT_N) mt_refill(g);
  uint32_t y = g->mt[g->mt_next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

/* CPUGeneratorImpl::random64(): first draw is the high half. */
static uint64_t random64(TorchGen *g) {
  uint64_t hi = tr_random32(g);
  uint64_t lo = tr_random32(g);
  return (hi << 32) | lo;
}

/* ------------------------------------------------------------------ */
/* Uniform (TransformationHelper.h uniform_real)                        */
/* ------------------------------------------------------------------ */

/* uniform_real_distribution<float>(from, to)(gen): 24 random bits scaled
 * to [0, 1), then x * (to - from) + from in float.  `span` is the float
 * (to - from).  Fused in the AVX2 build, rounded twice otherwise. */
static float uniform_f(TorchGen *g, float from, float span, int cpu) {
  float x = (float)(tr_random32(g) & 0xffffffu) * (1.0f / 16777216.0f);
  if (cpu == TR_CPU_AVX2) return fmaf(x, span, from);
  return rnd(x * span) + from;
}

/* uniform_real_distribution<double>(0, 1)(gen): 53 random bits of a
 * 64-bit draw scaled to [0, 1); `* (1 - 0) + 0` changes nothing. */
static double uniform_d01(TorchGen *g) {
  uint64_t r = random64(g) & ((UINT64_C(1) << 53) - 1);
  return (double)r * (1.0 / 9007199254740992.0);
}

/* DistributionTemplates.h uniform_kernel: from and to are first cast to
 * float, then every element in memory order takes one draw. */
void tr_uniform(TorchGen *g, float *out, size_t n, double from, double to) {
  float f = (float)from, t = (float)to;
  float span = t - f;
  for (size_t i = 0; i < n; i++)
    out[i] = uniform_f(g, f, span, g->cpu);
}

/* ------------------------------------------------------------------ */
/* Small tensors: normal_distribution<double> (DistributionsHelper.h)  */
/* ------------------------------------------------------------------ */

/* transformation::normal: val * std + mean, fused in the AVX2 build. */
static double normal_transform(double val, double mean, double std, int cpu) {
  if (cpu == TR_CPU_AVX2) return fma(val, std, mean);
  return rnd_d(val * std) + mean;
}

/* One normal_distribution<double>(mean, std) sample.  Box-Muller gives two
 * values; the sine one is cached in the generator and returned (through
 * the transform) by the next call. */
static double normal_double(TorchGen *g, double mean, double std) {
  if (g->has_next_normal) {
    g->has_next_normal = 0;
    return normal_transform(g->next_normal, mean, std, g->cpu);
  }
  double u1 = uniform_d01(g);
  double u2 = uniform_d01(g);
  /* 1.13 uses log(1 - u2); later releases switched to log1p(-u2). */
  double r = sqrt(-2.0 * log(1.0 - u2));
  double theta = 2.0 * 3.14159265358979323846 * u1;
  g->next_normal = r * sin(theta);
  g->has_next_normal = 1;
  return normal_transform(r * cos(theta), mean, std, g->cpu);
}

/* ------------------------------------------------------------------ */
/* AVX2 path: one lane of native/cpu/avx_mathfun.h                      */
/* ------------------------------------------------------------------ */

/* log256_ps for x in (0, 1] (what Box-Muller feeds it; the x <= 0 NaN
 * mask is therefore left out).  Cephes logf: split x = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)), then a degree-9 polynomial in m - 1. */
static float avx_log(float x) {
  static const float p[9] = {
      7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
      -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
      2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
  const float q1 = -2.12194440e-4f, q2 = 0.693359375f;
  const float sqrthf = 0.707106781186547524f;
  const float min_norm = u2f(0x00800000u);

  if (x < min_norm) /* cut off denormals */
    x = min_norm;
  uint32_t bits = f2u(x);
  float e = (float)((int32_t)(bits >> 23) - 0x7f) + 1.0f;
  x = u2f((bits & ~0x7f800000u) | f2u(0.5f)); /* mantissa in [.5,1) */

  /* if x < sqrt(1/2): e -= 1, x = x + x - 1; else x = x - 1 */
  int small = x < sqrthf;
  float tmp = small ? x : 0.0f;
  x = x - 1.0f;
  e = e - (small ? 1.0f : 0.0f);
  x = x + tmp;

  float z = rnd(x * x);
  float y = p[0];
  for (int k = 1; k < 9; k++) /* Horner: fused by GCC */
    y = fmaf(y, x, p[k]);
  y = rnd(y * x);
  y = fmaf(y, z, rnd(e * q1)); /* y*z + e*q1: y*z fused */
  y = y - rnd(z * 0.5f);       /* exact product */
  x = x + y;
  return fmaf(e, q2, x); /* e*q2 + x: fused */
}

/* sincos256_ps for x in [0, 2 pi) (theta).  Cephes sinf/cosf: reduce by
 * multiples of pi/4 (Cody-Waite in three parts), evaluate both the sine
 * and the cosine polynomial, pick and sign-fix per octant. */
static void avx_sincos(float x, float *s, float *c) {
  const float fopi = 1.27323954473516f; /* 4 / pi */
  const float dp1 = -0.78515625f, dp2 = -2.4187564849853515625e-4f;
  const float dp3 = -3.77489497744594108e-8f;
  const float cc0 = 2.443315711809948E-005f;
  const float cc1 = -1.388731625493765E-003f;
  const float cc2 = 4.166664568298827E-002f;
  const float sc0 = -1.9515295891E-4f, sc1 = 8.3321608736E-3f;
  const float sc2 = -1.6666654611E-1f;

  uint32_t sign_sin = f2u(x) & 0x80000000u;
  x = fabsf(x);

  /* octant j = (trunc(x * 4/pi) + 1) & ~1 */
  int32_t j = (int32_t)rnd(x * fopi);
  j = (j + 1) & ~1;
  float y = (float)j;
  uint32_t swap_sin = ((uint32_t)j & 4u) << 29;
  int sin_poly = (j & 2) == 0; /* poly_mask: where sin uses y2 */
  uint32_t sign_cos = (~((uint32_t)j - 2u) & 4u) << 29;
  sign_sin ^= swap_sin;

  /* x = ((x - y*DP1) - y*DP2) - y*DP3, each step fused by GCC */
  x = fmaf(y, dp1, x);
  x = fmaf(y, dp2, x);
  x = fmaf(y, dp3, x);

  float z = rnd(x * x);
  /* cosine polynomial: 1 - z/2 + z^2 (cc2 + z (cc1 + z cc0)) */
  float yc = fmaf(fmaf(cc0, z, cc1), z, cc2);
  yc = rnd(yc * z);
  yc = fmaf(yc, z, -rnd(z * 0.5f)); /* yc*z - z*0.5: yc*z fused */
  yc = yc + 1.0f;
  /* sine polynomial: x + x z (sc2 + z (sc1 + z sc0)) */
  float ys = fmaf(fmaf(sc0, z, sc1), z, sc2);
  ys = rnd(ys * z);
  ys = fmaf(ys, x, x);

  /* blend exactly as the vector code does (and/andnot, sub, add) */
  float ysin2 = sin_poly ? ys : 0.0f;
  float ysin1 = sin_poly ? 0.0f : yc;
  ys = ys - ysin2;
  yc = yc - ysin1;
  *s = u2f(f2u(ysin1 + ysin2) ^ sign_sin);
  *c = u2f(f2u(yc + ys) ^ sign_cos);
}

/* normal_fill_16_AVX2: data[0..7] and data[8..15] hold uniforms; lane j
 * turns (data[j], data[j + 8]) into two normals. */
static void fill16_avx2(float *d, float mean, float std) {
  const float two_pi = (float)(2.0 * 3.14159265358979323846);
  for (int j = 0; j < 8; j++) {
    float u1 = 1.0f - d[j]; /* [0,1) -> (0,1] */
    float radius = sqrtf(-2.0f * avx_log(u1));
    float theta = rnd(two_pi * d[j + 8]);
    float s, c;
    avx_sincos(theta, &s, &c);
    d[j] = fmaf(rnd(radius * c), std, mean); /* _mm256_fmadd_ps */
    d[j + 8] = fmaf(rnd(radius * s), std, mean);
  }
}

/* ------------------------------------------------------------------ */
/* Portable path: normal_fill_16<float> (DistributionTemplates.h)       */
/* ------------------------------------------------------------------ */

static void fill16_default(float *d, float mean, float std) {
  for (int j = 0; j < 8; j++) {
    float u1 = 1.0f - d[j];
    float u2 = d[j + 8];
    float radius = sqrtf(-2.0f * logf(u1));
    /* 2.0f * c10::pi<double> * u2 is computed in double */
    float theta = (float)(2.0 * 3.14159265358979323846 * (double)u2);
    d[j] = rnd(rnd(radius * cosf(theta)) * std) + mean;
    d[j + 8] = rnd(rnd(radius * sinf(theta)) * std) + mean;
  }
}

/* ------------------------------------------------------------------ */
/* normal_kernel                                                        */
/* ------------------------------------------------------------------ */

static void fill16(float *d, float mean, float std, int cpu) {
  if (cpu == TR_CPU_AVX2)
    fill16_avx2(d, mean, std);
  else
    fill16_default(d, mean, std);
}

static void uniforms01(TorchGen *g, float *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = uniform_f(g, 0.0f, 1.0f, g->cpu);
}

/* normal_fill / normal_fill_AVX2 for n >= 16: all uniforms first, then
 * blocks of 16; a ragged tail redraws and redoes the last 16 elements. */
static void normal_fill(TorchGen *g, float *out, size_t n, float mean,
                        float std) {
  uniforms01(g, out, n);
  for (size_t i = 0; i + 16 <= n; i += 16)
    fill16(out + i, mean, std, g->cpu);
  if (n % 16 != 0) {
    float *tail = out + n - 16;
    uniforms01(g, tail, 16);
    fill16(tail, mean, std, g->cpu);
  }
}

void tr_normal(TorchGen *g, float *out, size_t n, double mean, double std) {
  if (n >= 16) {
    normal_fill(g, out, n, (float)mean, (float)std);
    return;
  }
  for (size_t i = 0; i < n; i++)
    out[i] = (float)normal_double(g, mean, std);
}

/* torch.randn = empty(...).normal_(0, 1) */
void tr_randn(TorchGen *g, float *out, size_t n) {
  tr_normal(g, out, n, 0.0, 1.0);
}

/* ------------------------------------------------------------------ */
/* nn.Conv*d / nn.Linear reset_parameters() (torch/nn/init.py)          */
/* ------------------------------------------------------------------ */

void tr_init_weight_bias(TorchGen *g, float *w, size_t nw, int64_t fan_in,
                         float *b, size_t nb) {
  if (nw > 0 && fan_in > 0) {
    /* kaiming_uniform_(w, a=math.sqrt(5)), Python doubles:
     * gain = calculate_gain('leaky_relu', a) = sqrt(2 / (1 + a ** 2)),
     * std = gain / sqrt(fan_in), bound = sqrt(3.0) * std */
    double a = sqrt(5.0);
    double gain = sqrt(2.0 / (1.0 + pow(a, 2.0)));
    double std = gain / sqrt((double)fan_in);
    double bound = sqrt(3.0) * std;
    tr_uniform(g, w, nw, -bound, bound);
  }
  if (b == NULL) return;
  if (fan_in <= 0) {
    for (size_t i = 0; i < nb; i++)
      b[i] = 0.0f;
    return;
  }
  /* bound = 1 / math.sqrt(fan_in); init.uniform_(b, -bound, bound) */
  double bound = 1.0 / sqrt((double)fan_in);
  tr_uniform(g, b, nb, -bound, bound);
}
