/* max as PyTorch's max pooling takes it: a NaN wins. */
static float mc_maxf(float m, float v) {
  float t = v > m ? v : m; /* two selects: no branch */
  return v != v ? v : t;
}
