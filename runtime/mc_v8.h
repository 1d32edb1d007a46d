/* Vectors of 8 floats, as statements on named vectors: AVX2 and FMA where
 * the compiler targets them (e.g. gcc or clang -march=native on a recent
 * x86); elsewhere, and with -DMODELC_PORTABLE, arrays of 8 floats and
 * loops over them that compute the same sums lane by lane. ReLU and the
 * pooling max keep PyTorch's NaNs. p, q: pointers to 8 floats; x: a float
 * broadcast to every lane. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(MODELC_PORTABLE)
#include <immintrin.h>
#define MC_V8_AVX2 1
#define MC_V8(a) __m256 a
#define MC_VLD(a, p) (a = _mm256_loadu_ps(p))
#define MC_VZERO(a) (a = _mm256_setzero_ps())
#define MC_VSET(a, x) (a = _mm256_set1_ps(x))
#define MC_VFMA(a, p, x) (a = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_set1_ps(x), a))
#define MC_VDOT(a, p, q) (a = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q), a))
#define MC_VMUL(a, p, q) (a = _mm256_mul_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q)))
#define MC_VADD(a, b) (a = _mm256_add_ps(a, b))
#define MC_VADDP(a, p) (a = _mm256_add_ps(a, _mm256_loadu_ps(p)))
#define MC_VMAX(a, b) (a = mc_vmax8(a, b))
#define MC_VMAXP(a, p) (a = mc_vmax8(a, _mm256_loadu_ps(p)))
#define MC_VDIV(a, x) (a = _mm256_div_ps(a, _mm256_set1_ps(x)))
#define MC_VRELU(a) (a = _mm256_max_ps(_mm256_setzero_ps(), a))
#define MC_VCOPY(a, b) (a = b)
#define MC_VST(p, a) _mm256_storeu_ps(p, a)
/* lanes n..7 stored as 0 */
#define MC_VSTN(p, a, n) _mm256_storeu_ps(p, _mm256_blend_ps(_mm256_setzero_ps(), a, (1 << (n)) - 1))
#define MC_VMAP(a, fn) do { float t_[8]; _mm256_storeu_ps(t_, a); \
    for (int i_ = 0; i_ < 8; i_++) { t_[i_] = fn(t_[i_]); } \
    a = _mm256_loadu_ps(t_); } while (0)
#define MC_VPUT(y, s, a, n) do { float t_[8]; _mm256_storeu_ps(t_, a); \
    for (int i_ = 0; i_ < (n); i_++) { (y)[i_ * (s)] = t_[i_]; } } while (0)
static inline MC_UNUSED __m256 mc_vmax8(__m256 m, __m256 v) {
  return _mm256_blendv_ps(_mm256_max_ps(v, m), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
static inline MC_UNUSED float mc_vsum(__m256 v) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}
#else
#define MC_V8_AVX2 0
#define MC_V8(a) float a[8]
#define MC_VLD mc_vld
#define MC_VZERO mc_vzero
#define MC_VSET mc_vset
#define MC_VFMA mc_vfma
#define MC_VDOT mc_vdot
#define MC_VMUL mc_vmul
#define MC_VADD mc_vadd
#define MC_VADDP mc_vadd
#define MC_VMAX mc_vmax
#define MC_VMAXP mc_vmax
#define MC_VDIV mc_vdiv
#define MC_VRELU mc_vrelu
#define MC_VCOPY mc_vld
#define MC_VST mc_vst
#define MC_VSTN mc_vstn
#define MC_VMAP mc_vmap
#define MC_VPUT mc_vput
static inline MC_UNUSED void mc_vld(float *a, const float *p) { for (int i = 0; i < 8; i++) a[i] = p[i]; }
static inline MC_UNUSED void mc_vzero(float *a) { for (int i = 0; i < 8; i++) a[i] = 0.0f; }
static inline MC_UNUSED void mc_vset(float *a, float x) { for (int i = 0; i < 8; i++) a[i] = x; }
static inline MC_UNUSED void mc_vfma(float *a, const float *p, float x) {
  for (int i = 0; i < 8; i++) a[i] = MC_FMA(p[i], x, a[i]);
}
static inline MC_UNUSED void mc_vdot(float *a, const float *p, const float *q) {
  for (int i = 0; i < 8; i++) a[i] = MC_FMA(p[i], q[i], a[i]);
}
static inline MC_UNUSED void mc_vmul(float *a, const float *p, const float *q) {
  for (int i = 0; i < 8; i++) a[i] = p[i] * q[i];
}
static inline MC_UNUSED void mc_vadd(float *a, const float *b) { for (int i = 0; i < 8; i++) a[i] += b[i]; }
static inline MC_UNUSED void mc_vmax(float *a, const float *b) {
  for (int i = 0; i < 8; i++) a[i] = b[i] > a[i] || b[i] != b[i] ? b[i] : a[i];
}
static inline MC_UNUSED void mc_vdiv(float *a, float x) { for (int i = 0; i < 8; i++) a[i] /= x; }
static inline MC_UNUSED void mc_vrelu(float *a) {
  for (int i = 0; i < 8; i++) a[i] = a[i] < 0.0f ? 0.0f : a[i];
}
static inline MC_UNUSED void mc_vst(float *p, const float *a) { for (int i = 0; i < 8; i++) p[i] = a[i]; }
static inline MC_UNUSED void mc_vstn(float *p, const float *a, int n) {
  for (int i = 0; i < 8; i++) p[i] = i < n ? a[i] : 0.0f;
}
static inline MC_UNUSED void mc_vmap(float *a, float (*fn)(float)) {
  for (int i = 0; i < 8; i++) a[i] = fn(a[i]);
}
static inline MC_UNUSED void mc_vput(float *y, int s, const float *a, int n) {
  for (int i = 0; i < n; i++) y[i * s] = a[i];
}
static inline MC_UNUSED float mc_vsum(const float *v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}
#endif
