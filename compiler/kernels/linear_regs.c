/* kernels/linear_regs.c: Linear blocked in a Cortex-M's registers.
 *
 * For --target cortex-m4/m7/m0: a loop over blocks of up to 8 outputs
 * (the last block printed apart if smaller), each output a scalar
 * local accumulator; each input feature, loaded once, adds its weight
 * times itself to the block's outputs. The loop over inputs is unrolled
 * in the emitted text (at least 4 inputs, and 32 multiply-adds, a step),
 * and the weights are packed in the order a block reads them:
 * [block][in][output in block]. With an FPU a step is fmaf(w, x, acc),
 * one vfma.f32, else acc + w * x in float. */
#include "kernels/linear.h"

#include <stdlib.h>

#define LREGS_NB 8 /* outputs per block */

static int64_t block_of(int64_t out) {
  return out < LREGS_NB ? out : LREGS_NB;
}

/* Inputs per unrolled step for blocks of nb outputs. */
static int64_t step_of(int64_t nb, int64_t in) {
  int64_t s = 32 / (nb ? nb : 1);
  if (s < 4) s = 4;
  return s < in ? s : (in ? in : 1);
}

static int lregs_fits(const Program *p, const Op *op, Target t, char *why,
                      size_t n) {
  (void)p;
  if (t == TARGET_GENERIC || !linear_is(op)) return 0;
  int64_t in = op->main->a.in, out = op->main->a.out, nb = block_of(out);
  if (in < 1 || out < 1) return 0;
  snprintf(why, n, "registers: blocks of %lld outputs in float locals, each "
           "input loaded once, %lld inputs a step unrolled, %s",
           (long long)nb, (long long)step_of(nb, in),
           target_has_fma(t) ? "fmaf (one vfma each)" : "acc + w * x (no FPU)");
  return 1;
}

/* Two blocks (the full ones' loop, the rest), each a step and its tail
 * of up to 32 multiply-adds of about 40 bytes. */
static int64_t lregs_code_bytes(const Op *op) {
  (void)op;
  return 2 * 2 * 32 * 40;
}

static void lregs_pack(Program *p, Op *op) {
  (void)p;
  const Layer *l = op->main;
  int64_t in = l->a.in, out = l->a.out, nb = block_of(out);
  float *w, *b;
  pack_folded(op, &w, &b, out, in);
  float *wp = mc_alloc(sizeof(float) * (size_t)(in * out));
  int64_t at = 0;
  for (int64_t o0 = 0; o0 < out; o0 += nb) {
    int64_t width = out - o0 < nb ? out - o0 : nb;
    for (int64_t i = 0; i < in; i++)
      for (int64_t j = 0; j < width; j++) wp[at++] = w[(o0 + j) * in + i];
  }
  free(w);
  pack_add(op, "weight_packed", wp, in * out,
           mc_format("%s.weight [%lld, %lld]%s%s%s, packed for blocks of "
                     "%lld outputs: [block][in][output in block]", l->prefix,
                     (long long)out, (long long)in, op->bn ? ", times " : "",
                     op->bn ? op->bn->prefix : "", op->bn ? "'s scale" : "",
                     (long long)nb));
  if (b) pack_add(op, "bias", b, out, pack_bias_what(op, ""));
}

/* Inputs xr[i + 0 .. nu) into the nb accumulators, weights from w. */
static void emit_inputs(Emit *e, int64_t nb, int64_t nu, int fma) {
  for (int64_t u = 0; u < nu; u++) {
    em(e, "{");
    em(e, "const float xi = xr[i + %lld];", (long long)u);
    Buf s = {0};
    for (int64_t j = 0; j < nb; j++) {
      if (fma)
        buf_printf(&s, "%sa%lld = fmaf(w[%lld], xi, a%lld);", j ? " " : "",
                   (long long)j, (long long)(u * nb + j), (long long)j);
      else
        buf_printf(&s, "%sa%lld += w[%lld] * xi;", j ? " " : "", (long long)j,
                   (long long)(u * nb + j));
    }
    em(e, "%s", s.s);
    buf_free(&s);
    em(e, "}");
  }
}

/* One block of nb outputs from o0 (in scope). */
static void emit_block(Emit *e, const Op *op, int64_t nb, const char *wn,
                       const char *bn, int fma) {
  int64_t in = op->main->a.in, step = step_of(nb, in);
  int64_t full = in / step * step;
  em(e, "{ /* %lld outputs from o0 */", (long long)nb);
  Buf b = {0};
  for (int64_t j = 0; j < nb; j++) {
    if (bn) buf_printf(&b, "%sa%lld = %s[o0 + %lld]", j ? ", " : "",
                       (long long)j, bn, (long long)j);
    else buf_printf(&b, "%sa%lld = 0.0f", j ? ", " : "", (long long)j);
  }
  em(e, "float %s;", b.s ? b.s : "");
  buf_free(&b);
  em(e, "const float *w = %s + o0 * %lld;", wn, (long long)in);
  if (full > step)
    em(e, "for (int i = 0; i < %lld; i += %lld, w += %lld) {",
       (long long)full, (long long)step, (long long)(step * nb));
  else
    em(e, "{ const int i = 0;");
  emit_inputs(e, nb, step, fma);
  if (full == step) em(e, "w += %lld;", (long long)(step * nb));
  em(e, "}");
  if (full < in) {
    em(e, "{ const int i = %lld;", (long long)full);
    emit_inputs(e, nb, in - full, fma);
    em(e, "}");
  } else {
    em(e, "(void)w;");
  }
  Buf s = {0};
  for (int64_t j = 0; j < nb; j++) {
    char *v = mc_format("a%lld", (long long)j);
    char *chain = em_act_chain(e, op, v);
    buf_printf(&s, "%syr[o0 + %lld] = %s;", j ? " " : "", (long long)j,
               chain);
    free(chain);
    free(v);
  }
  em(e, "%s", s.s);
  buf_free(&s);
  em(e, "}");
}

static void lregs_emit(Emit *e, const Op *op) {
  int64_t out = op->main->a.out, nb = block_of(out);
  const char *wn = op_array(op, "weight_packed"), *bn = op_array(op, "bias");
  int fma = target_has_fma(e->p->target);
  int64_t nfull = out / nb, rem = out % nb;
  linear_open_row(e, op);
  if (nfull > 1)
    em(e, "for (int o0 = 0; o0 < %lld; o0 += %lld) {", (long long)(nfull * nb),
       (long long)nb);
  else
    em(e, "{ const int o0 = 0;");
  emit_block(e, op, nb, wn, bn, fma);
  em(e, "}");
  if (rem) {
    em(e, "{ const int o0 = %lld; /* the last outputs */",
       (long long)(nfull * nb));
    emit_block(e, op, rem, wn, bn, fma);
    em(e, "}");
  }
  em(e, "}");
}

const Kernel kernel_linear_regs = {"linear-regs",    KERNELS_FAST, lregs_fits,
                                   NULL,             lregs_code_bytes,
                                   lregs_pack,       lregs_emit};
