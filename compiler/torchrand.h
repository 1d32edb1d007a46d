/*
 * torchrand.h - PyTorch 1.13's CPU random number generation, bit-exact.
 *
 * Reproduces what `torch.manual_seed(N)` followed by `t.uniform_(a, b)`,
 * `torch.randn(...)`, `t.normal_(mean, std)` and the default
 * reset_parameters() of nn.Conv1d/2d/3d and nn.Linear produce for float32
 * tensors on the CPU, so that modelc can initialise a model's parameters
 * exactly as a freshly built nn.Sequential would be.
 *
 * PyTorch selects its CPU kernels at run time by "CPU capability".  Two of
 * them give different last bits (see torchrand.c for where and why):
 *   TR_CPU_AVX2     the AVX2 kernels (any x86-64 CPU with AVX2+FMA; what
 *                   torch.backends / torch.__config__ report as AVX2).  This
 *                   is what tr_seed() selects.
 *   TR_CPU_DEFAULT  the portable kernels (CPUs without AVX2, or
 *                   ATEN_CPU_CAPABILITY=default).
 * To emulate the portable kernels, set `g->cpu = TR_CPU_DEFAULT` after
 * tr_seed().
 *
 * All functions are pure C99, keep no global state and allocate nothing.
 */
#ifndef MODELC_TORCHRAND_H
#define MODELC_TORCHRAND_H

#include <stddef.h>
#include <stdint.h>

enum { TR_CPU_AVX2 = 0, TR_CPU_DEFAULT = 1 };

#define TR_MT_N 624

/* The state of at::CPUGeneratorImpl: its mt19937 engine plus the cached
 * second Box-Muller sample of at::normal_distribution<double>. */
typedef struct TorchGen {
  uint32_t mt[TR_MT_N]; /* mt19937 state words */
  unsigned mt_next;     /* index of the next word; TR_MT_N = refill */
  uint64_t seed;        /* the seed as given (only 32 bits are used) */
  int has_next_normal;  /* next_double_normal_sample_ is set */
  double next_normal;   /* its value */
  int cpu;              /* TR_CPU_AVX2 or TR_CPU_DEFAULT */
} TorchGen;

/* torch.manual_seed(seed).  Negative Python seeds: pass (uint64_t)seed. */
void tr_seed(TorchGen *g, uint64_t seed);

/* One raw 32-bit draw of the generator (CPUGeneratorImpl::random()). */
uint32_t tr_random32(TorchGen *g);

/* t.uniform_(from, to) on a contiguous float32 tensor of n elements.
 * Needs from <= to (PyTorch raises otherwise). */
void tr_uniform(TorchGen *g, float *out, size_t n, double from, double to);

/* torch.randn(shape) in float32, n = number of elements (any shape: only
 * the element count matters). */
void tr_randn(TorchGen *g, float *out, size_t n);

/* t.normal_(mean, std) on a contiguous float32 tensor of n elements. */
void tr_normal(TorchGen *g, float *out, size_t n, double mean, double std);

/* The default reset_parameters() of nn.Conv1d/2d/3d and nn.Linear:
 * kaiming_uniform_(w, a=sqrt(5)) on the nw weights, then, if b is not NULL,
 * uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the nb biases.
 * fan_in = in_channels / groups * prod(kernel_size) (Linear: in_features).
 * If nw == 0 the weight is left alone (init.kaiming_uniform_ is a no-op on
 * zero-element tensors).  If fan_in <= 0 the bias draws nothing and is set
 * to zeros (nn.Conv*d skips it; nn.Linear would draw nb values of 0). */
void tr_init_weight_bias(TorchGen *g, float *w, size_t nw, int64_t fan_in,
                         float *b, size_t nb);

#endif
