/*
 * test_npy.c - the .npy reader and writer against valid, hostile and
 * truncated files, and against files written by numpy (tests/fixtures/io,
 * made by tools/gen_io_fixture.py).
 *
 * Run from the repository root: the fixtures are read relative to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

#define FIXTURES "tests/fixtures/io/"
#define MAXFILE 4096

/* ------------------------------------------------------------- helpers */

static uint32_t bits_of(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static float float_of(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

/* Builds an .npy file of version major.0 in buf: magic, version, header
   length, the header text, then dlen data bytes (from data, or a counting
   pattern if data is NULL). Returns its length. */
static size_t build(unsigned char *buf, int major, const char *header,
                    const unsigned char *data, size_t dlen) {
  size_t h = strlen(header), pre = major == 1 ? 10 : 12, i;
  assert_true(pre + h + dlen <= MAXFILE);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  put_le(buf + 8, h, major == 1 ? 2 : 4);
  memcpy(buf + pre, header, h);
  for (i = 0; i < dlen; i++)
    buf[pre + h + i] = data ? data[i] : (unsigned char)(i % 251);
  return pre + h + dlen;
}

/* Checks a message: non-empty, lowercase start, no final period. */
static void check_style(const char *err) {
  size_t n = strlen(err);
  assert_true(n > 0);
  assert_false(err[0] >= 'A' && err[0] <= 'Z');
  assert_true(err[n - 1] != '.');
}

/* Reading buf must fail with a message containing want: returns 0 if it
   does, else prints what happened and returns 1. */
static int check_fails(const char *label, const unsigned char *buf, size_t len,
                       const char *want) {
  float *data = (float *)&data; /* not NULL: must be reset */
  int64_t shape[NPY_MAX_DIMS];
  int ndim = -1, rc;
  char err[512] = "";
  rc = npy_read_mem(buf, len, &data, &ndim, shape, err, sizeof err);
  if (rc == 0 || strstr(err, want) == NULL) {
    print_error("%s: rc %d, message \"%s\", wanted \"%s\"\n", label, rc, err,
                want);
    if (rc == 0) free(data);
    return 1;
  }
  assert_null(data);
  check_style(err);
  return 0;
}

static void fails_with(const char *label, const unsigned char *buf, size_t len,
                       const char *want) {
  if (check_fails(label, buf, len, want) != 0) fail();
}

/* Reading buf must succeed; returns the data (free it). */
static float *reads(const char *label, const unsigned char *buf, size_t len,
                    int *ndim, int64_t *shape) {
  float *data = NULL;
  char err[512] = "";
  if (npy_read_mem(buf, len, &data, ndim, shape, err, sizeof err) != 0) {
    print_error("%s: unexpected error \"%s\"\n", label, err);
    fail();
  }
  assert_non_null(data);
  return data;
}

/* A temporary file path, created empty; the caller unlinks it. */
static void temp_path(char *path) {
  int fd;
  strcpy(path, "/tmp/modelc_npy_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
}

static size_t read_whole(const char *path, unsigned char *buf, size_t cap) {
  FILE *fp = fopen(path, "rb");
  size_t n;
  assert_non_null(fp);
  n = fread(buf, 1, cap, fp);
  fclose(fp);
  return n;
}

#define H(descr, fortran, shape)                                               \
  "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", "  \
                                                                         "}\n"

/* ------------------------------------------------- hostile files */

typedef struct Bad {
  const char *label;
  int major;
  const char *header;
  size_t dlen;
  const char *want;
} Bad;

static const Bad BAD[] = {
    /* the dtype and the layout */
    {"big-endian f4", 1, H(">f4", "False", "(2, 3)"), 24,
     "big-endian data ('>f4') is not supported; save it as '<f4'"},
    {"big-endian f8", 1, H(">f8", "False", "(3,)"), 24,
     "big-endian data ('>f8')"},
    {"int64", 1, H("<i8", "False", "(3,)"), 24,
     "unsupported dtype '<i8': modelc reads float32 ('<f4') and float64"},
    {"uint8", 1, H("|u1", "False", "(3,)"), 3, "unsupported dtype '|u1'"},
    {"float16", 1, H("<f2", "False", "(3,)"), 6, "unsupported dtype '<f2'"},
    {"bool", 1, H("|b1", "False", "(3,)"), 3, "unsupported dtype '|b1'"},
    {"object", 1, H("|O", "False", "(3,)"), 24, "unsupported dtype '|O'"},
    {"no byte order", 1, H("f4", "False", "(3,)"), 12,
     "unsupported dtype 'f4'"},
    {"structured", 1,
     "{'descr': [('a', '<f4')], 'fortran_order': False, "
     "'shape': (3,), }",
     12, "structured dtypes are not supported"},
    {"fortran", 1, H("<f4", "True", "(2, 3)"), 24,
     "fortran_order is True: Fortran-order arrays are not supported"},
    /* sizes */
    {"truncated data", 1, H("<f4", "False", "(2, 3)"), 20,
     "truncated data: shape [2, 3] of '<f4' needs 24 bytes but only 20 "
     "follow the header"},
    {"truncated f8", 2, H("<f8", "False", "(4,)"), 31,
     "shape [4] of '<f8' needs 32 bytes but only 31"},
    {"no data", 1, H("<f4", "False", "()"), 0, "needs 4 bytes but only 0"},
    {"trailing data", 1, H("<f4", "False", "(2, 3)"), 25,
     "1 unexpected byte after the data: shape [2, 3] of '<f4' needs 24 "
     "bytes"},
    {"data for empty", 1, H("<f4", "False", "(0, 3)"), 4,
     "4 unexpected bytes after the data"},
    {"huge shape", 1, H("<f4", "False", "(1000000000, 1000000000)"), 8,
     "needs 4000000000000000000 bytes but only 8"},
    {"overflowing shape", 1, H("<f4", "False", "(4294967296, 4294967296, 4)"),
     8, "shape [4294967296, 4294967296, 4] is too large"},
    {"overflowing bytes", 1, H("<f8", "False", "(2305843009213693952,)"), 8,
     "is too large"},
    {"entry too large", 1, H("<f4", "False", "(99999999999999999999,)"), 8,
     "shape entry is too large"},
    {"nine dims", 1, H("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4,
     "shape has more than 8 dimensions"},
    {"negative dim", 1, H("<f4", "False", "(-1,)"), 4,
     "expected a non-negative integer in the shape"},
    {"float dim", 1, H("<f4", "False", "(2.0,)"), 8, "expected ',' or ')'"},
    {"not a tuple", 1, H("<f4", "False", "(5)"), 20,
     "expected ',' in a 1-tuple"},
    {"bare int", 1, H("<f4", "False", "5"), 20, "expected '('"},
    {"list shape", 1, H("<f4", "False", "[5]"), 20, "expected '('"},
    {"empty entry", 1, H("<f4", "False", "(,)"), 0,
     "expected a non-negative integer"},
    {"hex dim", 1, H("<f4", "False", "(0x10,)"), 64, "expected ','"},
    /* the dict */
    {"no shape", 1, "{'descr': '<f4', 'fortran_order': False}", 4,
     "invalid .npy header: no 'shape' key"},
    {"no descr", 1, "{'fortran_order': False, 'shape': ()}", 4,
     "no 'descr' key"},
    {"no fortran_order", 1, "{'descr': '<f4', 'shape': ()}", 4,
     "no 'fortran_order' key"},
    {"unknown key", 1,
     "{'descr': '<f4', 'fortran_order': False, "
     "'shape': (), 'extra': 1}",
     4, "at byte 54: unknown key 'extra'"},
    {"duplicate key", 1,
     "{'descr': '<f4', 'descr': '<f4', "
     "'fortran_order': False, 'shape': ()}",
     4, "at byte 17: duplicate key 'descr'"},
    {"fortran as string", 1, H("<f4", "'False'", "()"), 4,
     "expected True or False"},
    {"fortran misspelt", 1, H("<f4", "Flase", "()"), 4,
     "expected True or False"},
    {"fortran as int", 1, H("<f4", "0", "()"), 4, "expected True or False"},
    {"missing colon", 1,
     "{'descr' '<f4', 'fortran_order': False, "
     "'shape': ()}",
     4, "expected ':'"},
    {"missing comma", 1,
     "{'descr': '<f4' 'fortran_order': False, "
     "'shape': ()}",
     4, "expected ','"},
    {"missing brace", 1,
     "{'descr': '<f4', 'fortran_order': False, "
     "'shape': ()",
     4, "expected ','"},
    {"garbage after", 1,
     "{'descr': '<f4', 'fortran_order': False, "
     "'shape': ()} x",
     4, "unexpected text after the dict"},
    {"two dicts", 1,
     "{'descr': '<f4', 'fortran_order': False, "
     "'shape': ()}{}",
     4, "unexpected text after the dict"},
    {"not a dict", 1, "['descr', '<f4']", 4, "expected '{'"},
    {"empty header", 1, "", 4, "expected '{'"},
    {"unterminated", 1, "{'descr': '<f4", 4, "unterminated string"},
    {"escape", 1,
     "{'descr': '<\\x66\x34', 'fortran_order': False, "
     "'shape': ()}",
     4, "unsupported character in a string"},
    {"non-ASCII", 1,
     "{'descr': '<f4\xC3\xA9', 'fortran_order': False, "
     "'shape': ()}",
     4, "unsupported character in a string"},
    {"non-ASCII key", 1, "{'d\xC3\xA9': 1}", 4, "unsupported character"},
    {"NUL in header", 1,
     "{'descr': '<f4', 'fortran_order': False, "
     "'shape': ()}\x01",
     4, "unexpected text after the dict"},
    {"bare key", 1, "{descr: '<f4'}", 4, "expected a string"},
    {"mismatched quotes", 1, "{'descr\"}", 4, "unterminated string"},
    /* versions 2.0 and 3.0 are checked the same way */
    {"v2 big-endian", 2, H(">f4", "False", "(3,)"), 12, "big-endian"},
    {"v3 truncated", 3, H("<f4", "False", "(3,)"), 11, "truncated data"},
};

static void test_npy_hostile_headers(void **state) {
  unsigned char buf[MAXFILE];
  size_t i;
  int bad = 0;
  (void)state;
  for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    size_t n = build(buf, BAD[i].major, BAD[i].header, NULL, BAD[i].dlen);
    bad += check_fails(BAD[i].label, buf, n, BAD[i].want);
  }
  assert_int_equal(bad, 0);
}

static void test_npy_bad_preamble(void **state) {
  unsigned char buf[MAXFILE];
  size_t n;
  (void)state;
  memset(buf, 0, sizeof buf);
  fails_with("empty", buf, 0, "not a .npy file: it does not start with");
  fails_with("NULL", NULL, 0, "not a .npy file");
  fails_with("text", (const unsigned char *)"hello, world", 12,
             "not a .npy file");
  fails_with("safetensors", (const unsigned char *)"\x02\0\0\0\0\0\0\0{}", 10,
             "not a .npy file");
  fails_with("NUMPZ", (const unsigned char *)"\x93NUMPZ\x01\x00\x00\x00", 10,
             "not a .npy file");
  fails_with("magic only", (const unsigned char *)"\x93NUMPY", 6,
             "truncated file: no .npy version");
  n = build(buf, 1, H("<f4", "False", "()"), NULL, 4);
  buf[6] = 4;
  fails_with("version 4.0", buf, n, "unsupported .npy version 4.0");
  buf[6] = 0;
  fails_with("version 0.0", buf, n, "unsupported .npy version 0.0");
  buf[6] = 1;
  buf[7] = 1;
  fails_with("version 1.1", buf, n, "unsupported .npy version 1.1");
  buf[7] = 0;
  put_le(buf + 8, 65535, 2);
  fails_with("v1 header too long", buf, n,
             "the .npy header length says 65535 bytes but only");
  n = build(buf, 2, H("<f4", "False", "()"), NULL, 4);
  put_le(buf + 8, 0xFFFFFFFFu, 4);
  fails_with("v2 header too long", buf, n,
             "the .npy header length says 4294967295 bytes");
  put_le(buf + 8, 0, 4);
  fails_with("v2 header empty", buf, n, "expected '{'");
}

/* A valid file cut at every byte must fail, with the right message. */
static void test_npy_truncated_everywhere(void **state) {
  unsigned char buf[MAXFILE];
  int major;
  (void)state;
  for (major = 1; major <= 3; major++) {
    const char *h = H("<f8", "False", "(2, 3)");
    size_t n = build(buf, major, h, NULL, 48), cut;
    size_t pre = major == 1 ? 10 : 12, hend = pre + strlen(h);
    int64_t shape[NPY_MAX_DIMS];
    int ndim;
    free(reads("whole", buf, n, &ndim, shape));
    for (cut = 0; cut < n; cut++) {
      char label[64];
      sprintf(label, "v%d cut at %lu", major, (unsigned long)cut);
      fails_with(label, buf, cut,
                 cut < 6      ? "not a .npy file"
                 : cut < 8    ? "no .npy version"
                 : cut < pre  ? "no .npy header length"
                 : cut < hend ? "the .npy header length says"
                              : "truncated data");
    }
  }
}

/* Random corruption of a valid file: never a crash or a bad read. */
static void test_npy_mutations(void **state) {
  unsigned char good[MAXFILE], buf[MAXFILE];
  size_t n = build(good, 1, H("<f8", "False", "(2, 3)"), NULL, 48);
  uint32_t rng = 777;
  int iter, k, ok = 0;
  (void)state;
  for (iter = 0; iter < 20000; iter++) {
    float *data;
    int64_t shape[NPY_MAX_DIMS];
    int ndim;
    char err[256] = "";
    size_t len = n;
    memcpy(buf, good, n);
    for (k = 0; k < 1 + iter % 4; k++) {
      size_t at;
      rng = rng * 1103515245u + 12345u;
      at = (rng >> 8) % n;
      rng = rng * 1103515245u + 12345u;
      switch ((rng >> 16) % 4) {
      case 0:
        buf[at] ^= (unsigned char)(1u << ((rng >> 8) % 8));
        break;
      case 1:
        buf[at] = (unsigned char)(rng >> 24);
        break;
      case 2:
        buf[at] = "{}()',:0123456789 TF"[(rng >> 24) % 20];
        break;
      default:
        len = at;
        break;
      }
    }
    if (npy_read_mem(buf, len, &data, &ndim, shape, err, sizeof err) == 0) {
      ok++;
      assert_true(ndim >= 0 && ndim <= NPY_MAX_DIMS);
      free(data);
    } else {
      check_style(err);
    }
  }
  assert_true(ok > 0);
}

/* -------------------------------------------------- valid files */

static void test_npy_f4_versions(void **state) {
  float vals[6] = {1.0f, -2.5f, 3.25f, -0.0f, 1e-40f, 3.4028235e38f};
  unsigned char data[24], buf[MAXFILE];
  int major, i, ndim;
  int64_t shape[NPY_MAX_DIMS];
  (void)state;
  for (i = 0; i < 6; i++)
    put_le(data + 4 * i, bits_of(vals[i]), 4);
  for (major = 1; major <= 3; major++) {
    size_t n = build(buf, major, H("<f4", "False", "(2, 3)"), data, 24);
    float *got = reads("f4", buf, n, &ndim, shape);
    assert_int_equal(ndim, 2);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 3);
    for (i = 0; i < 6; i++)
      assert_int_equal(bits_of(got[i]), bits_of(vals[i]));
    free(got);
  }
}

static void test_npy_f8(void **state) {
  static const uint64_t in[] = {
      0x3FB999999999999Aull, /* 0.1 */
      0x3FF0000010000000ull, /* 1 + 2^-24: a tie, to even */
      0x47EFFFFFEFFFFFFFull, /* just under FLT_MAX + half an ulp */
      0x47EFFFFFF0000000ull, /* FLT_MAX + half an ulp: to inf */
      0xFFF0000000000000ull, /* -inf */
      0xFFF8000000000000ull, /* -NaN */
      0x8000000000000000ull, /* -0 */
      0x3690000000000001ull, /* just over 2^-150: the smallest denormal */
  };
  static const uint32_t want[] = {0x3DCCCCCD, 0x3F800000, 0x7F7FFFFF,
                                  0x7F800000, 0xFF800000, 0xFFC00000,
                                  0x80000000, 0x00000001};
  unsigned char data[64], buf[MAXFILE];
  int64_t shape[NPY_MAX_DIMS];
  int i, ndim;
  size_t n;
  float *got;
  (void)state;
  for (i = 0; i < 8; i++)
    put_le(data + 8 * i, in[i], 8);
  n = build(buf, 2, H("<f8", "False", "(8,)"), data, 64);
  got = reads("f8", buf, n, &ndim, shape);
  assert_int_equal(ndim, 1);
  assert_int_equal(shape[0], 8);
  for (i = 0; i < 8; i++) {
    if (bits_of(got[i]) != want[i]) {
      print_error("f8 %d: got 0x%08x, want 0x%08x\n", i, bits_of(got[i]),
                  want[i]);
      free(got);
      fail();
    }
  }
  free(got);
}

/* Headers that numpy would accept: key order, quotes, spacing, trailing
   commas, no final newline, empty and 0-d arrays. */
static void test_npy_header_forms(void **state) {
  static const struct {
    const char *header;
    int ndim;
    int64_t shape[3];
  } ok[] = {
      {"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 2, {2, 3}},
      {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (6,)}",
       1,
       {6}},
      {"{'descr':'<f4','fortran_order':False,'shape':(1,2,3,),}", 3, {1, 2, 3}},
      {"  {\t'descr' : '<f4' ,\n'fortran_order' : False , 'shape' : ( 6 , "
       ") }  \n\n",
       1,
       {6}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 0, {0}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
       2,
       {0, 3}},
  };
  unsigned char buf[MAXFILE];
  int64_t shape[NPY_MAX_DIMS];
  size_t i;
  int ndim, k;
  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t numel = 1;
    size_t n;
    float *got;
    for (k = 0; k < ok[i].ndim; k++)
      numel *= ok[i].shape[k];
    n = build(buf, 1, ok[i].header, NULL, (size_t)numel * 4);
    got = reads(ok[i].header, buf, n, &ndim, shape);
    assert_int_equal(ndim, ok[i].ndim);
    for (k = 0; k < ndim; k++)
      assert_int_equal(shape[k], ok[i].shape[k]);
    free(got);
  }
}

/* ------------------------------------------------------------ writer */

static void test_npy_write_roundtrip(void **state) {
  static const int64_t shapes[][NPY_MAX_DIMS] = {
      {0}, {5}, {2, 3}, {0, 4}, {1, 2, 1, 2, 1, 2, 1, 2}, {3, 1, 1}};
  static const int ndims[] = {0, 1, 2, 2, 8, 3};
  float vals[16];
  unsigned char file[MAXFILE];
  char path[64], err[256];
  size_t t;
  int i;
  (void)state;
  for (i = 0; i < 16; i++)
    vals[i] = (float)i * -1.25f + 0.1f;
  vals[3] = float_of(0x7F800001u); /* a NaN payload survives */
  temp_path(path);
  for (t = 0; t < sizeof ndims / sizeof ndims[0]; t++) {
    float *got;
    int64_t shape[NPY_MAX_DIMS], numel = 1;
    int ndim;
    size_t n, hlen;
    for (i = 0; i < ndims[t]; i++)
      numel *= shapes[t][i];
    assert_int_equal(
        npy_write(path, vals, ndims[t], shapes[t], err, sizeof err), 0);
    /* numpy's layout: version 1.0, data at a multiple of 64, '\n' */
    n = read_whole(path, file, sizeof file);
    assert_memory_equal(file, "\x93NUMPY\x01\x00", 8);
    hlen = (size_t)file[8] | (size_t)file[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(file[10 + hlen - 1], '\n');
    assert_int_equal(n, 10 + hlen + 4 * (size_t)numel);
    assert_int_equal(npy_read(path, &got, &ndim, shape, err, sizeof err), 0);
    assert_int_equal(ndim, ndims[t]);
    for (i = 0; i < ndim; i++)
      assert_int_equal(shape[i], shapes[t][i]);
    for (i = 0; i < numel; i++)
      assert_int_equal(bits_of(got[i]), bits_of(vals[i]));
    free(got);
  }
  unlink(path);
}

/* The exact bytes numpy.save writes for a (2, 3) float32 array: the
   preamble (header length 118), the dict, 58 spaces and '\n'. */
static void test_npy_write_matches_numpy(void **state) {
  static const char dict[] =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  static const char dict1[] =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }";
  char want[128];
  float vals[7] = {0};
  int64_t shape[2] = {2, 3}, seven = 7;
  unsigned char file[MAXFILE];
  char path[64], err[256];
  size_t n;
  (void)state;
  memcpy(want, "\x93NUMPY\x01\x00v\x00", 10);
  memcpy(want + 10, dict, 59);
  memset(want + 69, ' ', 58);
  want[127] = '\n';
  temp_path(path);
  assert_int_equal(npy_write(path, vals, 2, shape, err, sizeof err), 0);
  n = read_whole(path, file, sizeof file);
  assert_int_equal(n, 128 + 24);
  assert_memory_equal(file, want, 128);
  assert_int_equal(npy_write(path, vals, 1, &seven, err, sizeof err), 0);
  n = read_whole(path, file, sizeof file);
  assert_int_equal(n, 128 + 28);
  assert_memory_equal(file + 10, dict1, sizeof dict1 - 1);
  unlink(path);
}

static void test_npy_write_errors(void **state) {
  float x[2] = {1, 2};
  int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
  char path[64], err[256];
  (void)state;
  temp_path(path);
  assert_int_equal(npy_write(path, x, 9, shape, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot write 9 dimensions (at most 8)"));
  assert_int_equal(npy_write(path, x, -1, shape, err, sizeof err), -1);
  shape[0] = -2;
  assert_int_equal(npy_write(path, x, 1, shape, err, sizeof err), -1);
  assert_string_equal(err, "bad shape entry -2");
  shape[0] = 2;
  assert_int_equal(npy_write(path, NULL, 1, shape, err, sizeof err), -1);
  assert_string_equal(err, "no data to write");
  shape[0] = 0;
  assert_int_equal(npy_write(path, NULL, 1, shape, err, sizeof err), 0);
  shape[0] = INT64_MAX;
  assert_int_equal(npy_write(path, x, 1, shape, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad shape entry"));
  shape[0] = 2;
  assert_int_equal(
      npy_write("/nonexistent/x.npy", x, 1, shape, err, sizeof err), -1);
  assert_string_equal(err, "cannot create: no such file or directory");
  unlink(path);
}

static void test_npy_file_errors(void **state) {
  float *data = NULL;
  int64_t shape[NPY_MAX_DIMS];
  int ndim;
  char err[256], path[64];
  unsigned char buf[MAXFILE];
  FILE *fp;
  size_t n;
  (void)state;
  assert_int_equal(
      npy_read("/nonexistent/x.npy", &data, &ndim, shape, err, sizeof err), -1);
  assert_string_equal(err, "cannot open: no such file or directory");
  assert_null(data);
  assert_int_equal(npy_read("/tmp", &data, &ndim, shape, err, sizeof err), -1);
  assert_string_equal(err, "cannot read: is a directory");
  /* a hostile file on disk, and a tiny message buffer */
  temp_path(path);
  n = build(buf, 1, H("<f4", "False", "(2, 3)"), NULL, 20);
  fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, n, fp), n);
  fclose(fp);
  assert_int_equal(npy_read(path, &data, &ndim, shape, err, sizeof err), -1);
  assert_non_null(strstr(err, "truncated data"));
  memset(err, '#', sizeof err);
  assert_int_equal(npy_read(path, &data, &ndim, shape, err, 5), -1);
  assert_string_equal(err, "trun");
  assert_int_equal(err[5], '#');
  assert_int_equal(npy_read(path, &data, &ndim, shape, NULL, 0), -1);
  unlink(path);
}

/* --------------------------------------------- the numpy fixtures */

/* Compares one "npy FILE NDIM DIMS... NUMEL BITS..." line. */
static void check_fixture_line(char *line) {
  char path[256], err[256], *file;
  float *data;
  int64_t shape[NPY_MAX_DIMS];
  int ndim, want_ndim, k;
  long numel;
  strtok(line, " \n");
  file = strtok(NULL, " \n");
  snprintf(path, sizeof path, FIXTURES "%s", file);
  if (npy_read(path, &data, &ndim, shape, err, sizeof err) != 0) {
    print_error("%s: %s\n", path, err);
    fail();
  }
  want_ndim = atoi(strtok(NULL, " \n"));
  assert_int_equal(ndim, want_ndim);
  for (k = 0; k < ndim; k++)
    assert_int_equal(shape[k], atol(strtok(NULL, " \n")));
  numel = atol(strtok(NULL, " \n"));
  for (k = 0; k < numel; k++) {
    uint32_t want = (uint32_t)strtoul(strtok(NULL, " \n"), NULL, 16);
    if (bits_of(data[k]) != want) {
      print_error("%s[%d]: got 0x%08x (%.9g), numpy says 0x%08x (%.9g)\n", file,
                  k, bits_of(data[k]), (double)data[k], want,
                  (double)float_of(want));
      free(data);
      fail();
    }
  }
  free(data);
}

static void test_npy_numpy_fixtures(void **state) {
  static char line[65536];
  FILE *fp = fopen(FIXTURES "expected.txt", "r");
  int files = 0;
  (void)state;
  if (fp == NULL) {
    print_error("cannot open " FIXTURES "expected.txt: run from the "
                "repository root\n");
    fail();
  }
  while (fgets(line, sizeof line, fp) != NULL) {
    if (strncmp(line, "npy ", 4) != 0) continue;
    check_fixture_line(line);
    files++;
  }
  fclose(fp);
  assert_int_equal(files, 6); /* <f4 and <f8 in versions 1.0, 2.0, 3.0 */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_npy_hostile_headers),
      cmocka_unit_test(test_npy_bad_preamble),
      cmocka_unit_test(test_npy_truncated_everywhere),
      cmocka_unit_test(test_npy_mutations),
      cmocka_unit_test(test_npy_f4_versions),
      cmocka_unit_test(test_npy_f8),
      cmocka_unit_test(test_npy_header_forms),
      cmocka_unit_test(test_npy_write_roundtrip),
      cmocka_unit_test(test_npy_write_matches_numpy),
      cmocka_unit_test(test_npy_write_errors),
      cmocka_unit_test(test_npy_file_errors),
      cmocka_unit_test(test_npy_numpy_fixtures),
  };
  return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
