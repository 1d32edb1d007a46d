/* test_run.c: `modelc run` as a user meets it, through the binary
 * ($MODELC): the Conv1d tutorial's tables printed exactly and written to
 * .npy within 1e-6 of PyTorch; inputs from .npy (float32, float64) or
 * randn; --weights, --quiet, --repeat; and every bad input file a clear
 * error with exit status 1. */
#include "testutil.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npy.h"
#include "safetensors.h"
#include "torchrand.h"

static const char *modelc;
static char tmpdir[64];

/* Run modelc with arguments (a shell fragment); capture stdout, stderr. */
static int run(const char *args, char **out, char **err) {
  char *cmd = mc_format("%s %s >%s/out 2>%s/err", modelc, args, tmpdir,
                        tmpdir);
  int st = system(cmd);
  free(cmd);
  char *p = mc_format("%s/out", tmpdir);
  *out = read_file(p, NULL);
  free(p);
  p = mc_format("%s/err", tmpdir);
  *err = read_file(p, NULL);
  free(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *tmp(const char *name) { return mc_format("%s/%s", tmpdir, name); }

static const char tutorial[] =
    "[[[ 0.6345,  0.2400],\n"
    "  [-0.0122, -0.7956]],\n"
    "\n"
    " [[-0.4041, -1.0328],\n"
    "  [ 0.2444, -0.9770]]]\n"
    "shape [2, 2, 2]\n";

static const char tutorial_pad[] =
    "[[[-0.0033,  0.6345,  0.2400, -0.2773],\n"
    "  [ 0.6259, -0.0122, -0.7956, -0.7431]],\n"
    "\n"
    " [[-0.6085, -0.4041, -1.0328, -0.3154],\n"
    "  [-0.4640,  0.2444, -0.9770,  0.8826]]]\n"
    "shape [2, 2, 4]\n";

static void test_run_tutorial_tables(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(run("run specs/conv1d_tutorial.lua --random-input 42", &out,
                       &err), 0);
  assert_string_equal(out, tutorial);
  assert_string_equal(err, "");
  free(out);
  free(err);
  assert_int_equal(run("run specs/conv1d_tutorial_pad.lua --random-input 42",
                       &out, &err), 0);
  assert_string_equal(out, tutorial_pad);
  free(out);
  free(err);
}

static float *load(const char *path, int64_t *n, int *ndim, int64_t *shape) {
  float *x;
  char e[256];
  if (npy_read(path, &x, ndim, shape, e, sizeof e))
    fail_msg("%s: %s", path, e);
  *n = 1;
  for (int i = 0; i < *ndim; i++) *n *= shape[i];
  return x;
}

/* --output against PyTorch's own values (tools/gen_spec_refs.py). */
static void test_run_output_npy_matches_pytorch(void **state) {
  (void)state;
  const char *names[] = {"conv1d_tutorial", "conv1d_tutorial_pad"};
  for (int k = 0; k < 2; k++) {
    char *o = tmp("y.npy"), *out, *err;
    char *args = mc_format("run specs/%s.lua --random-input 42 --quiet "
                           "--output %s", names[k], o);
    assert_int_equal(run(args, &out, &err), 0);
    assert_string_equal(out, ""); /* --quiet */
    int64_t n, m, s1[8], s2[8];
    int d1, d2;
    float *got = load(o, &n, &d1, s1);
    char *ref = mc_format("tests/fixtures/specs/%s.seed42.out.npy", names[k]);
    float *want = load(ref, &m, &d2, s2);
    assert_int_equal(d1, 3);
    assert_int_equal(d1, d2);
    assert_memory_equal(s1, s2, sizeof(int64_t) * 3);
    for (int64_t i = 0; i < n; i++)
      if (fabs(got[i] - want[i]) > 1e-6)
        fail_msg("%s [%lld]: got %.9g, PyTorch %.9g", names[k], (long long)i,
                 got[i], want[i]);
    free(got);
    free(want);
    free(ref);
    free(args);
    free(o);
    free(out);
    free(err);
  }
}

/* --input of float32 and float64 gives the same as --random-input with the
 * same values; the default input is --random-input 0. */
static void test_run_input_files(void **state) {
  (void)state;
  int64_t shape[3] = {2, 3, 4};
  float x[24];
  TorchGen g;
  tr_seed(&g, 7);
  tr_randn(&g, x, 24);
  char *in = tmp("x.npy"), e[256];
  assert_int_equal(npy_write(in, x, 3, shape, e, sizeof e), 0);
  char *a, *b, *c, *err;
  char *args = mc_format("run specs/conv1d_tutorial.lua --input %s", in);
  assert_int_equal(run(args, &a, &err), 0);
  free(err);
  assert_int_equal(run("run specs/conv1d_tutorial.lua --random-input 7", &b,
                       &err), 0);
  free(err);
  assert_string_equal(a, b);
  assert_int_equal(run("run specs/conv1d_tutorial.lua", &c, &err), 0);
  free(err);
  char *d;
  assert_int_equal(run("run specs/conv1d_tutorial.lua --random-input 0", &d,
                       &err), 0);
  assert_string_equal(c, d);
  assert_string_not_equal(b, d);
  free(a), free(b), free(c), free(d), free(err), free(args), free(in);
}

/* Write raw bytes to a file in tmpdir. */
static char *raw_file(const char *name, const void *data, size_t n) {
  char *p = tmp(name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fwrite(data, 1, n, f);
  fclose(f);
  return p;
}

/* A version 1.0 .npy with the given header dict and n data bytes. */
static char *npy_file(const char *name, const char *dict, size_t nbytes) {
  unsigned char buf[512] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  size_t hl = strlen(dict) + 1, pad = (64 - (10 + hl) % 64) % 64;
  buf[8] = (unsigned char)(hl + pad);
  buf[9] = 0;
  memcpy(buf + 10, dict, strlen(dict));
  memset(buf + 10 + strlen(dict), ' ', pad);
  buf[10 + hl + pad - 1] = '\n';
  size_t total = 10 + hl + pad + nbytes;
  assert_true(total <= sizeof buf);
  return raw_file(name, buf, total);
}

typedef struct BadInput {
  const char *name, *dict;
  size_t nbytes;
  const char *want; /* part of the message */
} BadInput;

static void test_run_bad_inputs(void **state) {
  (void)state;
  const BadInput rows[] = {
      {"fortran.npy",
       "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }", 96,
       "fortran"},
      {"bigendian.npy",
       "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96,
       ">f4"},
      {"int.npy",
       "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96,
       "<i4"},
      {"shape.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 12), }", 96,
       "has shape [2, 12], but the model's input is [2, 3, 4]"},
      {"flat.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (24,), }", 96,
       "has shape [24], but the model's input is [2, 3, 4]"},
      {"short.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 95,
       "input file"},
      {"long.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 100,
       "input file"},
      {"lying.npy",
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 400000), }",
       96, "input file"},
      {"garbage.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
       96, "input file"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char *p = npy_file(rows[i].name, rows[i].dict, rows[i].nbytes);
    char *args = mc_format("run specs/conv1d_tutorial.lua --input %s", p);
    char *out, *err;
    int st = run(args, &out, &err);
    if (st != 1 || !strstr(err, rows[i].want) || strlen(out))
      fail_msg("%s: exit %d, stderr '%s' (want '%s')", rows[i].name, st, err,
               rows[i].want);
    free(p), free(args), free(out), free(err);
  }
  /* Not an .npy at all, and a missing file. */
  char *p = raw_file("text.npy", "hello\n", 6), *out, *err;
  char *args = mc_format("run specs/conv1d_tutorial.lua --input %s", p);
  assert_int_equal(run(args, &out, &err), 1);
  assert_non_null(strstr(err, "input file"));
  free(p), free(args), free(out), free(err);
  assert_int_equal(run("run specs/conv1d_tutorial.lua --input /nonexistent.npy",
                       &out, &err), 1);
  assert_non_null(strstr(err, "/nonexistent.npy"));
  free(out), free(err);
  /* Command-line errors: exit 2. */
  assert_int_equal(run("run specs/conv1d_tutorial.lua --input a.npy "
                       "--random-input 1", &out, &err), 2);
  free(out), free(err);
  assert_int_equal(run("run specs/conv1d_tutorial.lua --repeat 0", &out, &err),
                   2);
  free(out), free(err);
  assert_int_equal(run("run specs/conv1d_tutorial.lua --random-input x", &out,
                       &err), 2);
  free(out), free(err);
}

/* --weights replaces the spec's init: all-ones weights and zero bias make
 * each output the sum of its input window. */
static void test_run_weights_override(void **state) {
  (void)state;
  float w[18], b[2] = {0, 0};
  for (int i = 0; i < 18; i++) w[i] = 1;
  char wname[] = "0.weight", bname[] = "0.bias";
  StTensor t[2] = {{wname, 3, {2, 3, 3}, w, "F32"},
                   {bname, 1, {2}, b, "F32"}};
  char *p = tmp("ones.safetensors"), e[256];
  assert_int_equal(st_save(p, t, 2, e, sizeof e), 0);
  char *o = tmp("ones.npy");
  char *args = mc_format("run specs/conv1d_tutorial.lua --random-input 42 "
                         "--weights %s --output %s", p, o);
  char *out, *err;
  assert_int_equal(run(args, &out, &err), 0);
  float x[24];
  TorchGen g;
  tr_seed(&g, 42);
  tr_randn(&g, x, 24);
  int64_t n, shape[8];
  int nd;
  float *y = load(o, &n, &nd, shape);
  assert_int_equal(n, 8); /* [2, 2, 2] */
  for (int s = 0; s < 2; s++)
    for (int oc = 0; oc < 2; oc++)
      for (int t0 = 0; t0 < 2; t0++) {
        double sum = 0;
        for (int c = 0; c < 3; c++)
          for (int k = 0; k < 3; k++) sum += x[s * 12 + c * 4 + t0 + k];
        assert_true(fabs(y[(s * 2 + oc) * 2 + t0] - sum) < 1e-5);
      }
  free(y), free(p), free(o), free(args), free(out), free(err);
  /* A weights file with a wrong shape names the key and both shapes. */
  StTensor bad[2] = {{wname, 3, {2, 3, 2}, w, "F32"},
                     {bname, 1, {2}, b, "F32"}};
  p = tmp("bad.safetensors");
  assert_int_equal(st_save(p, bad, 2, e, sizeof e), 0);
  args = mc_format("run specs/conv1d_tutorial.lua --weights %s", p);
  assert_int_equal(run(args, &out, &err), 1);
  assert_non_null(strstr(err, "size mismatch for 0.weight: copying a param "
                              "with shape torch.Size([2, 3, 2]) from "
                              "checkpoint, the shape in current model is "
                              "torch.Size([2, 3, 3])."));
  assert_non_null(strstr(err, "specs/conv1d_tutorial.lua:"));
  free(p), free(args), free(out), free(err);
}

/* The spec's weights file is relative to the spec; a missing tensor, an
 * unused one, a truncated file: each reported at the right line. */
static void test_run_weights_file_errors(void **state) {
  (void)state;
  float w[18] = {0}, b[2] = {0}, extra[3] = {0};
  char n0[] = "conv.weight", n1[] = "conv.bias", n2[] = "head.weight";
  StTensor t[3] = {{n0, 3, {2, 3, 3}, w, "F32"},
                   {n1, 1, {2}, b, "F32"},
                   {n2, 1, {3}, extra, "F32"}};
  char *p = tmp("w.safetensors"), e[256], *out, *err;
  assert_int_equal(st_save(p, t, 3, e, sizeof e), 0);
  char *spec = tmp("net.lua");
  FILE *f = fopen(spec, "w");
  fputs("-- a named layer, weights next to the spec\n"
        "return model \"net\" {\n"
        "  input = {1, 3, 5},\n"
        "  weights = \"w.safetensors\",\n"
        "  nn.Conv1d{3, 2, 3, name = \"conv\"},\n"
        "}\n", f);
  fclose(f);
  char *args = mc_format("run %s", spec); /* run from elsewhere */
  assert_int_equal(run(args, &out, &err), 0);
  assert_non_null(strstr(err, "net.lua:2: warning: weights file"));
  assert_non_null(strstr(err, "Unexpected key(s) in state_dict: "
                              "\"head.weight\"."));
  assert_non_null(strstr(out, "shape [1, 2, 3]"));
  free(out), free(err);
  /* Without the bias: an error naming the key and the expected shape. */
  assert_int_equal(st_save(p, t, 1, e, sizeof e), 0);
  assert_int_equal(run(args, &out, &err), 1);
  assert_non_null(strstr(err, "net.lua:5: error: layer 0 'conv' (Conv1d): "
                              "weights file"));
  assert_non_null(strstr(err, "Missing key(s) in state_dict: \"conv.bias\". "
                              "(expected shape [2])"));
  free(out), free(err);
  /* A truncated file: an error at the model line. */
  assert_int_equal(st_save(p, t, 2, e, sizeof e), 0);
  assert_int_equal(truncate(p, 100), 0);
  assert_int_equal(run(args, &out, &err), 1);
  assert_non_null(strstr(err, "net.lua:2: error: weights file"));
  free(out), free(err);
  /* A file that is not safetensors at all. */
  free(raw_file("w.safetensors", "not a weights file at all\n", 26));
  assert_int_equal(run(args, &out, &err), 1);
  assert_non_null(strstr(err, "net.lua:2: error: weights file"));
  free(out), free(err), free(args), free(spec), free(p);
}

/* A name is a state_dict prefix: a dotted name loads a nested module's
 * keys as they are (features.0.weight). */
static void test_run_dotted_names(void **state) {
  (void)state;
  float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 20};
  StTensor t[2] = {{"features.0.weight", 2, {2, 3}, w, "F32"},
                   {"features.0.bias", 1, {2}, b, "F32"}};
  char *p = tmp("nested.safetensors"), e[256], *out, *err;
  assert_int_equal(st_save(p, t, 2, e, sizeof e), 0);
  char *spec = tmp("nested.lua");
  FILE *f = fopen(spec, "w");
  fputs("return model \"nested\" {\n"
        "  input = {1, 3},\n"
        "  weights = \"nested.safetensors\",\n"
        "  nn.Linear{3, 2, name = \"features.0\"},\n"
        "}\n", f);
  fclose(f);
  char *x = tmp("ones3.npy");
  float ones[3] = {1, 1, 1};
  int64_t shape[2] = {1, 3};
  assert_int_equal(npy_write(x, ones, 2, shape, e, sizeof e), 0);
  char *args = mc_format("run %s --input %s", spec, x);
  assert_int_equal(run(args, &out, &err), 0);
  assert_string_equal(err, "");
  assert_string_equal(out, "[[16., 35.]]\nshape [1, 2]\n");
  free(out), free(err), free(args), free(spec), free(p), free(x);
}

/* A .safetensors file written byte by byte: the header, then n data
 * bytes (zeros). */
static char *st_raw(const char *name, const char *header, size_t n) {
  size_t h = strlen(header);
  unsigned char *buf = calloc(1, 8 + h + n);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
  memcpy(buf + 8, header, h);
  char *p = raw_file(name, buf, 8 + h + n);
  free(buf);
  return p;
}

/* `check` validates the weights file exactly as `build` does, from its
 * header: the same message and exit status for each bad file, at the
 * same line. A missing key is one error with a hint, one note for the
 * other missing keys and the warning listing what the file holds. */
static void test_check_validates_weights_like_build(void **state) {
  (void)state;
  char *spec = tmp("cw.lua"), *w = tmp("cw.safetensors"), e[256];
  FILE *f = fopen(spec, "w");
  fputs("return model \"cw\" {\n"
        "  input = {1, 3, 5},\n"
        "  weights = \"cw.safetensors\",\n"
        "  nn.Conv1d{3, 2, 3},\n"
        "  nn.ReLU{},\n"
        "  nn.Conv1d{2, 2, 1},\n"
        "}\n", f);
  fclose(f);
  float z[18] = {0};
  StTensor nested[4] = {{"features.0.weight", 3, {2, 3, 3}, z, "F32"},
                        {"features.0.bias", 1, {2}, z, "F32"},
                        {"features.2.weight", 3, {2, 2, 1}, z, "F32"},
                        {"features.2.bias", 1, {2}, z, "F32"}};
  StTensor good[4] = {{"0.weight", 3, {2, 3, 3}, z, "F32"},
                      {"0.bias", 1, {2}, z, "F32"},
                      {"2.weight", 3, {2, 2, 1}, z, "F32"},
                      {"2.bias", 1, {2}, z, "F32"}};
  StTensor mis[4] = {{"0.weight", 3, {2, 3, 3}, z, "F32"},
                     {"0.bias", 1, {2}, z, "F32"},
                     {"2.weight", 3, {2, 2, 3}, z, "F32"},
                     {"2.bias", 1, {2}, z, "F32"}};
  static const struct {
    const char *what, *want;
  } rows[] = {
      {"missing", "cw.lua:1: error: weights file"},
      {"truncated", "cw.lua:1: error: weights file"},
      {"garbage", "not a safetensors file"},
      {"zip", "this is a zip archive, as torch.save writes, not a "
              "safetensors file"},
      {"nested", "cw.lua:4: error: layer 0 (Conv1d): weights file"},
      {"shape", "cw.lua:6: error: layer 2 (Conv1d): weights file"},
      {"i64", "cw.lua:6: error: layer 2 (Conv1d): weights file"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const char *what = rows[i].what;
    remove(w);
    if (!strcmp(what, "truncated")) {
      assert_int_equal(st_save(w, good, 4, e, sizeof e), 0);
      assert_int_equal(truncate(w, 120), 0);
    } else if (!strcmp(what, "garbage")) {
      free(raw_file("cw.safetensors", "{\"a\": 1}\n", 9));
    } else if (!strcmp(what, "zip")) {
      free(raw_file("cw.safetensors", "PK\003\004\024\0\0\0\0\0archive/", 18));
    } else if (!strcmp(what, "nested")) {
      assert_int_equal(st_save(w, nested, 4, e, sizeof e), 0);
    } else if (!strcmp(what, "shape")) {
      assert_int_equal(st_save(w, mis, 4, e, sizeof e), 0);
    } else if (!strcmp(what, "i64")) {
      free(st_raw("cw.safetensors",
                  "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3,3],"
                  "\"data_offsets\":[0,72]},"
                  "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
                  "\"data_offsets\":[72,80]},"
                  "\"2.weight\":{\"dtype\":\"I64\",\"shape\":[2,2,1],"
                  "\"data_offsets\":[80,112]},"
                  "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
                  "\"data_offsets\":[112,120]}}", 120));
    }
    char *out, *err1, *err2;
    char *args = mc_format("check %s", spec);
    int st1 = run(args, &out, &err1);
    free(out), free(args);
    args = mc_format("build %s -o %s/gen", spec, tmpdir);
    int st2 = run(args, &out, &err2);
    free(out), free(args);
    if (st1 != 1 || st2 != 1 || strcmp(err1, err2) || !strstr(err1,
                                                               rows[i].want))
      fail_msg("%s: check exit %d, build exit %d (want 1), want '%s'\n"
               "check said:\n%sbuild said:\n%s", what, st1, st2,
               rows[i].want, err1, err2);
    if (!strcmp(what, "zip") &&
        !strstr(err1, "cw.lua:1: hint: convert it with: python3 "
                      "tools/pt2safetensors.py "))
      fail_msg("zip: no hint with the converter:\n%s", err1);
    if (!strcmp(what, "i64") && !strstr(err1, "tensor '2.weight' has dtype "
                                               "I64; modelc reads F32"))
      fail_msg("i64: %s", err1);
    if (!strcmp(what, "nested")) {
      /* the whole message: four lines, each useful */
      char *want = mc_format(
          "%s:4: error: layer 0 (Conv1d): weights file '%s': Missing key(s) "
          "in state_dict: \"0.weight\". (expected shape [2, 3, 3])\n"
          "%s:4: hint: the file holds 'features.0.weight' [2, 3, 3]: name = "
          "\"features.0\" loads it\n"
          "%s:1: note: weights file '%s': 3 more keys are missing: "
          "\"0.bias\", \"2.weight\", \"2.bias\"\n"
          "%s:1: warning: weights file '%s': Unexpected key(s) in "
          "state_dict: \"features.0.weight\", \"features.0.bias\", "
          "\"features.2.weight\", \"features.2.bias\". (used by no layer, or "
          "replaced by an inline value; ignored)\n",
          spec, w, spec, spec, w, spec, w);
      assert_string_equal(err1, want);
      free(want);
    }
    free(err1), free(err2);
  }
  /* A good file: check reads its header and accepts it. */
  assert_int_equal(st_save(w, good, 4, e, sizeof e), 0);
  char *out, *err, *args = mc_format("check %s", spec);
  assert_int_equal(run(args, &out, &err), 0);
  assert_string_equal(err, "");
  free(out), free(err), free(args), free(spec), free(w);
}

/* The path from a training script: torch.save(model.state_dict()), then
 * tools/pt2safetensors.py, then a spec with dotted names; and the .pt
 * itself is recognised and refused with the command that converts it
 * (tools/gen_pt_fixture.py made both files). */
static void test_run_converted_torch_save(void **state) {
  (void)state;
  char *o = tmp("net.npy"), *out, *err;
  char *args = mc_format("run tests/fixtures/pt/net.lua --quiet --output %s",
                         o);
  assert_int_equal(run(args, &out, &err), 0);
  assert_string_equal(err, ""); /* num_batches_tracked: silently ignored */
  int64_t n, m, s1[8], s2[8];
  int d1, d2;
  float *got = load(o, &n, &d1, s1);
  float *want = load("tests/fixtures/pt/net.out.npy", &m, &d2, s2);
  assert_int_equal(n, m);
  for (int64_t i = 0; i < n; i++)
    if (fabs(got[i] - want[i]) > 1e-5 + 1e-4 * fabs(want[i]))
      fail_msg("net [%lld]: got %.9g, PyTorch %.9g", (long long)i, got[i],
               want[i]);
  free(got), free(want), free(args), free(out), free(err), free(o);
  const char *cmds[] = {"check", "build"};
  for (int k = 0; k < 2; k++) {
    args = mc_format("%s tests/fixtures/pt/net.lua --weights "
                     "tests/fixtures/pt/net.pt%s", cmds[k],
                     k ? " -o /nonexistent" : "");
    assert_int_equal(run(args, &out, &err), 1);
    assert_string_equal(err,
        "tests/fixtures/pt/net.lua:2: error: weights file "
        "'tests/fixtures/pt/net.pt': this is a zip archive, as torch.save "
        "writes, not a safetensors file\n"
        "tests/fixtures/pt/net.lua:2: hint: convert it with: python3 "
        "tools/pt2safetensors.py tests/fixtures/pt/net.pt "
        "tests/fixtures/pt/net.safetensors\n");
    free(args), free(out), free(err);
  }
}

/* Modules with a forward (SPEC.md 1.1): a module spec of an existing
 * example builds as the layer list it is, with the same bits; seeded init
 * follows construction order; a module loads its own state_dict(); a
 * branching graph is checked (with its workspace and lower bound), drawn,
 * built and run. */
static void test_run_modules(void **state) {
  (void)state;
  char *a = tmp("a.npy"), *b = tmp("b.npy"), *out, *err, *out2;
  char *args = mc_format("run specs/lenet5.lua --random-input 3 --output %s",
                         a);
  assert_int_equal(run(args, &out, &err), 0);
  free(args), free(err);
  args = mc_format("run tests/specs/lenet5_module.lua --random-input 3 "
                   "--output %s", b);
  assert_int_equal(run(args, &out2, &err), 0);
  assert_string_equal(err, "");
  assert_string_equal(out, out2);
  size_t na = 0, nb = 1;
  char *ba = read_file(a, &na), *bb = read_file(b, &nb);
  assert_true(ba && bb && na == nb && memcmp(ba, bb, na) == 0);
  free(ba), free(bb), free(args), free(out), free(out2), free(err);
  free(a), free(b);

  assert_int_equal(run("run tests/specs/init_order.lua --random-input 1",
                       &out, &err), 0);
  assert_string_equal(out, "[[ 0.3415,  0.1955,  0.0058],\n"
                           " [-0.0258, -0.2115, -0.3640]]\n"
                           "shape [2, 3]\n");
  free(out), free(err);

  /* its own state_dict, keys as the attribute paths, no warning */
  assert_int_equal(run("run tests/fixtures/pt/net_module.lua", &out, &err),
                   0);
  assert_string_equal(out, "[[-0.5706,  0.9186, -0.0432]]\nshape [1, 3]\n");
  assert_string_equal(err, "");
  free(out), free(err);

  assert_int_equal(run("check tests/specs/resnet_tiny.lua", &out, &err), 0);
  assert_non_null(strstr(out, "  9  add                  add             "
                              "                                    "
                              "layers.0.bn2, layers.0.shortcut    "
                              "[1, 16, 32, 32]           0             0\n"));
  assert_non_null(strstr(out, "activation memory: workspace 296.2 KiB "
                              "(lower bound 296.2 KiB), plus input and "
                              "output 12.0 KiB\n"));
  free(out), free(err);
  char *rt = tmp("rt");
  args = mc_format("build tests/specs/resnet_tiny.lua -o %s", rt);
  free(rt);
  assert_int_equal(run(args, &out, &err), 0);
  assert_string_equal(err, "");
  free(args), free(out), free(err);
  assert_int_equal(run("run tests/specs/resnet_tiny.lua --random-input 1",
                       &out, &err), 0);
  assert_string_equal(err, "");
  assert_non_null(strstr(out, "shape [1, 10]\n"));
  free(out), free(err);
  assert_int_equal(run("graph tests/specs/resnet_tiny.lua", &out, &err), 0);
  assert_non_null(strstr(out, "  n8 -> n10 [label=\"[1, 16, 32, 32]\"];\n"));
  assert_non_null(strstr(out, "  n9 -> n10 [label=\"[1, 16, 32, 32]\"];\n"));
  assert_non_null(strstr(out, "  n23 -> output [label=\"[1, 10]\"];\n"));
  free(out), free(err);
}

static void test_run_repeat(void **state) {
  (void)state;
  char *out, *err;
  assert_int_equal(run("run specs/seed_cnn1d.lua --repeat 5 --quiet", &out,
                       &err), 0);
  assert_non_null(strstr(out, "5 runs: median "));
  assert_non_null(strstr(out, " us per inference"));
  free(out), free(err);
}

int main(void) {
  modelc = getenv("MODELC") ? getenv("MODELC") : "build/modelc";
  snprintf(tmpdir, sizeof tmpdir, "/tmp/modelc_run_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_tutorial_tables),
      cmocka_unit_test(test_run_output_npy_matches_pytorch),
      cmocka_unit_test(test_run_input_files),
      cmocka_unit_test(test_run_bad_inputs),
      cmocka_unit_test(test_run_weights_override),
      cmocka_unit_test(test_run_weights_file_errors),
      cmocka_unit_test(test_run_dotted_names),
      cmocka_unit_test(test_check_validates_weights_like_build),
      cmocka_unit_test(test_run_converted_torch_save),
      cmocka_unit_test(test_run_modules),
      cmocka_unit_test(test_run_repeat),
  };
  int r = cmocka_run_group_tests_name("run", tests, NULL, NULL);
  if (test_rmdir(tmpdir)) r = 1;
  return r;
}
