/*
 * test_safetensors.c - the .safetensors reader and writer against valid,
 * hostile and truncated files, and against files written by Python/torch
 * (tests/fixtures/io, made by tools/gen_io_fixture.py).
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
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"

#define FIXTURES "tests/fixtures/io/"
#define MAXFILE 8192

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

/* Builds a file in buf: the header length, the header json, then dlen
   data bytes (from data, or a counting pattern if data is NULL). */
static size_t build(unsigned char *buf, const char *json,
                    const unsigned char *data, size_t dlen) {
  size_t n = strlen(json), i;
  assert_true(8 + n + dlen <= MAXFILE);
  put_le(buf, n, 8);
  memcpy(buf + 8, json, n);
  for (i = 0; i < dlen; i++)
    buf[8 + n + i] = data ? data[i] : (unsigned char)(i % 251);
  return 8 + n + dlen;
}

/* Checks a message: non-empty, lowercase start, no final period. */
static void check_style(const char *err) {
  size_t n = strlen(err);
  assert_true(n > 0);
  assert_false(err[0] >= 'A' && err[0] <= 'Z');
  assert_true(err[n - 1] != '.' || (n >= 3 && !strcmp(err + n - 3, "...")));
}

/* Loading buf must fail with a message containing want: returns 0 if it
   does, else prints what happened and returns 1. */
static int check_fails(const char *label, const unsigned char *buf, size_t len,
                       const char *want) {
  StFile f;
  char err[512] = "";
  int rc = st_load_mem(buf, len, &f, err, sizeof err);
  if (rc == 0 || strstr(err, want) == NULL) {
    print_error("%s: rc %d, message \"%s\", wanted \"%s\"\n", label, rc, err,
                want);
    if (rc == 0) st_free(&f);
    return 1;
  }
  assert_null(f.tensors);
  assert_int_equal(f.count, 0);
  check_style(err);
  return 0;
}

static void fails_with(const char *label, const unsigned char *buf, size_t len,
                       const char *want) {
  if (check_fails(label, buf, len, want) != 0) fail();
}

/* Loading buf must succeed. */
static void loads(const char *label, const unsigned char *buf, size_t len,
                  StFile *f) {
  char err[512] = "";
  if (st_load_mem(buf, len, f, err, sizeof err) != 0) {
    print_error("%s: unexpected error \"%s\"\n", label, err);
    fail();
  }
}

/* A temporary file path, created empty; the caller unlinks it. */
static void temp_path(char *path) {
  int fd;
  strcpy(path, "/tmp/modelc_st_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
}

static void write_file(const char *path, const unsigned char *buf, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* ------------------------------------------------- hostile headers */

typedef struct Bad {
  const char *label;
  const char *json;
  size_t dlen; /* data bytes after the header */
  const char *want;
} Bad;

#define T24 "\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]"

static const Bad BAD[] = {
    /* sizes and offsets */
    {"past the end",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
     "\"data_offsets\":[0,28]}}",
     24, "reach past the end of the data"},
    {"huge offsets",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000],"
     "\"data_offsets\":[0,4000000000]}}",
     24, "[0, 4000000000] reach past"},
    {"end before begin",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],"
     "\"data_offsets\":[24,0]}}",
     24, "end before they begin"},
    {"count mismatch",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],"
     "\"data_offsets\":[0,24]}}",
     24, "need 16 bytes but data_offsets [0, 24] hold 24"},
    {"dtype size mismatch",
     "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],"
     "\"data_offsets\":[0,24]}}",
     24, "dtype F16 need 12 bytes"},
    {"overlap",
     "{\"a\":{" T24 "},\"b\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[16,40]}}",
     40, "tensors 'a' and 'b' overlap"},
    {"empty inside another",
     "{\"a\":{" T24 "},\"b\":{\"dtype\":\"F32\","
     "\"shape\":[0],\"data_offsets\":[8,8]}}",
     24, "overlap"},
    {"same bytes twice", "{\"a\":{" T24 "},\"b\":{" T24 "}}", 24, "overlap"},
    {"hole",
     "{\"a\":{" T24 "},\"b\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[32,56]}}",
     56, "bytes 24..32 of the data belong to no tensor"},
    {"trailing data", "{\"a\":{" T24 "}}", 28,
     "bytes 24..28 of the data belong to no tensor"},
    {"data but no tensors", "{}", 4, "bytes 0..4 of the data"},
    {"shape overflow",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
     "4294967296,4],\"data_offsets\":[0,24]}}",
     24, "shape is too large"},
    {"bytes overflow",
     "{\"w\":{\"dtype\":\"F64\",\"shape\":"
     "[1152921504606846976,8],\"data_offsets\":[0,24]}}",
     24, "shape is too large"},
    {"entry too large",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":"
     "[99999999999999999999],\"data_offsets\":[0,24]}}",
     24, "shape entry 99999999999999999999 is too large"},
    {"offset too large",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[0,9223372036854775808]}}",
     24, "is too large"},
    /* dtypes */
    {"I64",
     "{\"w\":{\"dtype\":\"I64\",\"shape\":[3],"
     "\"data_offsets\":[0,24]}}",
     24, "tensor 'w' has dtype I64; modelc reads F32, F16, BF16 and F64"},
    {"U8",
     "{\"w\":{\"dtype\":\"U8\",\"shape\":[24],"
     "\"data_offsets\":[0,24]}}",
     24, "tensor 'w' has dtype U8"},
    {"BOOL",
     "{\"w\":{\"dtype\":\"BOOL\",\"shape\":[24],"
     "\"data_offsets\":[0,24]}}",
     24, "has dtype BOOL"},
    {"I64 not batches tracked",
     "{\"xnum_batches_tracked\":{\"dtype\":"
     "\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}",
     8, "has dtype I64"},
    {"unknown dtype",
     "{\"w\":{\"dtype\":\"F17\",\"shape\":[6],"
     "\"data_offsets\":[0,24]}}",
     24, "tensor 'w' has unknown dtype 'F17'"},
    {"lowercase dtype",
     "{\"w\":{\"dtype\":\"f32\",\"shape\":[6],"
     "\"data_offsets\":[0,24]}}",
     24, "unknown dtype 'f32'"},
    {"dtype not a string",
     "{\"w\":{\"dtype\":4,\"shape\":[6],"
     "\"data_offsets\":[0,24]}}",
     24, "dtype must be a string"},
    /* shapes */
    {"negative dim",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,3],"
     "\"data_offsets\":[0,24]}}",
     24, "tensor 'w': shape entry -1 is not a non-negative integer"},
    {"fractional dim",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0,3],"
     "\"data_offsets\":[0,24]}}",
     24, "shape entry 2.0 is not"},
    {"exponent dim",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2e0,3],"
     "\"data_offsets\":[0,24]}}",
     24, "shape entry 2e0 is not"},
    {"string dim",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\",3],"
     "\"data_offsets\":[0,24]}}",
     24, "shape must hold only non-negative integers"},
    {"nested dim",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[[2],3],"
     "\"data_offsets\":[0,24]}}",
     24, "must hold only non-negative"},
    {"shape not array",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":6,"
     "\"data_offsets\":[0,24]}}",
     24, "shape must be an array"},
    {"nine dims",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,6],"
     "\"data_offsets\":[0,24]}}",
     24, "shape has more than 8 dimensions"},
    {"three offsets",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[0,12,24]}}",
     24, "data_offsets must be [begin, end]"},
    {"one offset",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[24]}}",
     24, "data_offsets must be [begin, end]"},
    {"negative offset",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[6],"
     "\"data_offsets\":[-0,24]}}",
     24, "entry -0 is not a non-negative"},
    /* the schema */
    {"no dtype", "{\"w\":{\"shape\":[6],\"data_offsets\":[0,24]}}", 24,
     "tensor 'w' has no dtype"},
    {"no shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", 24,
     "tensor 'w' has no shape"},
    {"no offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[6]}}", 24,
     "tensor 'w' has no data_offsets"},
    {"unknown key", "{\"w\":{" T24 ",\"foo\":1}}", 24,
     "tensor 'w': unknown key 'foo'"},
    {"duplicate key", "{\"w\":{" T24 ",\"dtype\":\"F32\"}}", 24,
     "tensor 'w': duplicate key 'dtype'"},
    {"duplicate name", "{\"w\":{" T24 "},\"w\":{" T24 "}}", 24,
     "duplicate tensor name 'w'"},
    {"duplicate name by escape", "{\"w\":{" T24 "},\"\\u0077\":{" T24 "}}", 24,
     "duplicate tensor name 'w'"},
    {"entry not an object", "{\"w\":[0,24]}", 24,
     "tensor 'w' must be an object"},
    {"NUL in name", "{\"a\\u0000b\":{" T24 "}}", 24,
     "tensor name 'a\\x00b' contains a NUL character"},
    {"control char shown",
     "{\"a\\u0001\":{\"dtype\":\"I8\",\"shape\":[24],"
     "\"data_offsets\":[0,24]}}",
     24, "tensor 'a\\x01' has dtype I8"},
    {"metadata not object", "{\"__metadata__\":3}", 0,
     "__metadata__ must be an object of strings"},
    {"metadata number", "{\"__metadata__\":{\"k\":1}}", 0,
     "__metadata__ value of 'k' is not a string"},
    {"metadata nested", "{\"__metadata__\":{\"k\":{\"a\":\"b\"}}}", 0,
     "__metadata__ value of 'k' is not a string"},
    {"metadata dup key",
     "{\"__metadata__\":{\"k\":\"a\",\"j\":\"b\","
     "\"k\":\"c\"}}",
     0, "__metadata__ has a duplicate key 'k'"},
    {"two metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
     "duplicate key '__metadata__'"},
    {"not an object", "[1,2]", 0, "does not start with '{'"},
    {"leading space", " {}", 0, "does not start with '{'"},
    {"empty header", "", 0, "does not start with '{'"},
    /* invalid JSON */
    {"trailing comma", "{\"w\":{" T24 "},}", 24,
     "invalid JSON header at byte 57: expected a string key"},
    {"trailing comma in array",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[6,],"
     "\"data_offsets\":[0,24]}}",
     24, "byte 31: unexpected character ']'"},
    {"missing colon", "{\"w\" {" T24 "}}", 24, "expected ':'"},
    {"missing comma",
     "{\"w\":{\"dtype\":\"F32\" \"shape\":[6],"
     "\"data_offsets\":[0,24]}}",
     24, "expected ',' or '}'"},
    {"missing brace", "{\"w\":{" T24 "}", 24, "expected ',' or '}'"},
    {"unterminated string", "{\"w", 0, "unterminated string"},
    {"trailing garbage", "{\"w\":{" T24 "}} x", 24,
     "unexpected data after the JSON value"},
    {"two objects", "{}{}", 0, "unexpected data after the JSON value"},
    {"single quotes", "{'w':1}", 0, "expected a string key"},
    {"bare key", "{w:1}", 0, "expected a string key"},
    {"bad escape", "{\"\\q\":1}", 0, "bad escape sequence"},
    {"short \\u", "{\"\\u12\":1}", 0, "bad escape sequence"},
    {"bad hex", "{\"\\u12G4\":1}", 0, "bad escape sequence"},
    {"lone high surrogate", "{\"\\ud800\":1}", 0, "unpaired UTF-16"},
    {"lone low surrogate", "{\"\\udc00\":1}", 0, "unpaired UTF-16"},
    {"high then not low", "{\"\\ud800\\u0041\":1}", 0, "unpaired UTF-16"},
    {"high then text", "{\"\\ud800abcdef\":1}", 0, "unpaired UTF-16"},
    {"raw newline", "{\"a\nb\":1}", 0, "control character in string"},
    {"raw tab", "{\"a\tb\":1}", 0, "control character in string"},
    {"leading zero",
     "{\"__metadata__\":{},\"w\":{\"dtype\":\"F32\","
     "\"shape\":[06],\"data_offsets\":[0,24]}}",
     24, "expected ',' or ']'"},
    {"lone minus", "{\"k\":-}", 0, "bad number"},
    {"no fraction digits", "{\"k\":1.}", 0, "bad number"},
    {"no exponent digits", "{\"k\":1e+}", 0, "bad number"},
    {"plus sign", "{\"k\":+1}", 0, "unexpected character '+'"},
    {"misspelt true", "{\"k\":tru}", 0, "byte 5: expected 'true'"},
    {"misspelt null", "{\"k\":nul}", 0, "expected 'null'"},
    {"capital True", "{\"k\":True}", 0, "unexpected character 'T'"},
    {"NaN literal", "{\"k\":NaN}", 0, "unexpected character 'N'"},
    {"raw byte value", "{\"k\":\x01}", 0, "unexpected byte 0x01"},
    {"truncated object", "{\"w\":{", 0, "invalid JSON header"},
    {"truncated value", "{\"w\":", 0, "unexpected end"},
    {"comment", "{/* */}", 0, "expected a string key"},
    /* UTF-8 */
    {"bad continuation", "{\"\xC3\x28\":1}", 0, "invalid UTF-8 in string"},
    {"overlong slash", "{\"\xC0\xAF\":1}", 0, "invalid UTF-8"},
    {"overlong 3-byte", "{\"\xE0\x80\xAF\":1}", 0, "invalid UTF-8"},
    {"overlong 4-byte", "{\"\xF0\x80\x80\xAF\":1}", 0, "invalid UTF-8"},
    {"surrogate", "{\"\xED\xA0\x80\":1}", 0, "invalid UTF-8"},
    {"above U+10FFFF", "{\"\xF4\x90\x80\x80\":1}", 0, "invalid UTF-8"},
    {"F5 lead", "{\"\xF5\x80\x80\x80\":1}", 0, "invalid UTF-8"},
    {"lone continuation", "{\"\x80\":1}", 0, "invalid UTF-8"},
    {"cut sequence", "{\"\xE2\x82\":1}", 0, "invalid UTF-8"},
    {"cut at the end", "{\"\xE2\x82", 0, "invalid UTF-8"},
    {"latin-1", "{\"caf\xE9\":1}", 0, "invalid UTF-8"},
    {"bad UTF-8 in metadata", "{\"__metadata__\":{\"k\":\"\xFF\"}}", 0,
     "invalid UTF-8"},
    {"bad UTF-8 outside a string", "{\xC3\xA9}", 0, "expected a string key"},
};

static void test_st_hostile_headers(void **state) {
  unsigned char buf[MAXFILE];
  size_t i;
  int bad = 0;
  (void)state;
  for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    size_t n = build(buf, BAD[i].json, NULL, BAD[i].dlen);
    bad += check_fails(BAD[i].label, buf, n, BAD[i].want);
  }
  assert_int_equal(bad, 0);
}

/* A NUL byte right after the JSON is trailing garbage. */
static void test_st_nul_after_json(void **state) {
  unsigned char buf[64];
  (void)state;
  put_le(buf, 3, 8);
  memcpy(buf + 8, "{}\0", 3);
  fails_with("NUL after JSON", buf, 11, "unexpected data after the JSON");
  memcpy(buf + 8, "{\0}", 3);
  fails_with("NUL inside JSON", buf, 11, "expected a string key");
}

/* Nesting is capped at 64 levels, even where any value is allowed. */
static void test_st_depth_limit(void **state) {
  char json[512];
  unsigned char buf[MAXFILE];
  size_t n;
  int depth, i;
  (void)state;
  for (depth = 60; depth <= 70; depth++) {
    n = (size_t)sprintf(json, "{\"__metadata__\":{\"k\":");
    for (i = 0; i < depth; i++)
      json[n++] = '[';
    for (i = 0; i < depth; i++)
      json[n++] = ']';
    strcpy(json + n, "}}");
    n = build(buf, json, NULL, 0);
    /* the top object and metadata make 2 levels, the arrays the rest */
    fails_with("deep", buf, n,
               depth + 2 <= 64 ? "value of 'k' is not a string"
                               : "nested too deeply");
  }
}

/* ---------------------------------------------- lying header lengths */

static void test_st_short_files(void **state) {
  unsigned char buf[64];
  size_t len;
  (void)state;
  memset(buf, 0, sizeof buf);
  fails_with("empty", buf, 0, "0 bytes is too short");
  fails_with("NULL", NULL, 0, "0 bytes is too short");
  fails_with("7 bytes", buf, 7, "7 bytes is too short for the 8-byte");
  /* header says 1024 bytes, 10 are there */
  put_le(buf, 1024, 8);
  memcpy(buf + 8, "{}        ", 10);
  fails_with("header too long", buf, 18,
             "the header length says 1024 bytes but only 10 follow it");
  put_le(buf, UINT64_MAX, 8);
  fails_with("header length 2^64-1", buf, 18,
             "says 18446744073709551615 bytes");
  put_le(buf, (uint64_t)1 << 63, 8);
  fails_with("header length 2^63", buf, 18, "truncated file");
  /* an .npy file is not a safetensors file */
  memcpy(buf, "\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", 26);
  fails_with("npy", buf, 26, "not a safetensors file");
  len = build(buf, "{}", NULL, 0);
  put_le(buf, 0, 8);
  fails_with("zero header length", buf, len, "does not start with '{'");
}

/* A valid file cut at every byte must fail, with the right message. */
static void test_st_truncated_everywhere(void **state) {
  static const char json[] =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
      "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[6,14]},"
      "\"c\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[14,30]}}";
  unsigned char buf[MAXFILE];
  size_t n = build(buf, json, NULL, 30), hend = 8 + strlen(json), cut;
  StFile f;
  (void)state;
  loads("whole", buf, n, &f);
  assert_int_equal(f.count, 3);
  st_free(&f);
  for (cut = 0; cut < n; cut++) {
    char label[64];
    sprintf(label, "cut at %lu", (unsigned long)cut);
    fails_with(label, buf, cut,
               cut < 8      ? "is too short for the 8-byte header length"
               : cut < hend ? "truncated file or not a safetensors file"
                            : "reach past the end of the data");
  }
}

/* The header-size cap, on a sparse 200 MB file that is never read. */
static void test_st_header_cap(void **state) {
  char path[64], err[256];
  unsigned char len8[8];
  StFile f;
  FILE *fp;
  (void)state;
  temp_path(path);
  fp = fopen(path, "r+b");
  assert_non_null(fp);
  put_le(len8, 150000000, 8);
  assert_int_equal(fwrite(len8, 1, 8, fp), 8);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(truncate(path, 200000000), 0);
  assert_int_equal(st_load(path, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "header of 150000000 bytes is over the limit"));
  unlink(path);
}

/* Random corruption of a valid file: never a crash or a bad read (the
   sanitizers watch), always a result or a message. */
static void test_st_mutations(void **state) {
  static const char json[] =
      "{\"__metadata__\":{\"k\":\"v\\u00e9\"},"
      "\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
      "\"b\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[6,14]},"
      "\"c\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[14,30]}}";
  unsigned char good[MAXFILE], buf[MAXFILE];
  size_t n = build(good, json, NULL, 30);
  uint32_t rng = 12345;
  int iter, k, ok = 0;
  (void)state;
  for (iter = 0; iter < 20000; iter++) {
    StFile f;
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
        buf[at] = "{}[]\",:0-9e\\ "[(rng >> 24) % 14];
        break;
      default:
        len = at;
        break;
      }
    }
    if (st_load_mem(buf, len, &f, err, sizeof err) == 0) {
      ok++;
      st_free(&f);
    } else {
      check_style(err);
    }
  }
  assert_true(ok > 0); /* some mutations (in the data) stay valid */
}

/* -------------------------------------------------- valid files */

static void test_st_f32(void **state) {
  static const char json[] =
      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
  float vals[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-40f};
  unsigned char data[24], buf[MAXFILE];
  StFile f;
  const StTensor *t;
  size_t n;
  int i;
  (void)state;
  for (i = 0; i < 6; i++)
    put_le(data + 4 * i, bits_of(vals[i]), 4);
  n = build(buf, json, data, 24);
  loads("f32", buf, n, &f);
  assert_int_equal(f.count, 1);
  t = st_find(&f, "w");
  assert_non_null(t);
  assert_string_equal(t->name, "w");
  assert_string_equal(t->dtype, "F32");
  assert_int_equal(t->ndim, 2);
  assert_int_equal(t->shape[0], 2);
  assert_int_equal(t->shape[1], 3);
  assert_int_equal(st_numel(t), 6);
  for (i = 0; i < 6; i++)
    assert_int_equal(bits_of(t->data[i]), bits_of(vals[i]));
  assert_null(st_find(&f, "x"));
  assert_null(st_find(&f, "W"));
  st_free(&f);
  st_free(&f); /* twice is harmless */
  assert_null(f.tensors);
}

/* Converts n 16-bit patterns of dtype (F16 or BF16) and checks the float32
   bit patterns. */
static void check_16(const char *dtype, const uint16_t *in,
                     const uint32_t *want, int n) {
  char json[256];
  unsigned char data[64] = {0}, buf[MAXFILE];
  StFile f;
  size_t len;
  int i;
  for (i = 0; i < n; i++)
    put_le(data + 2 * i, in[i], 2);
  sprintf(json,
          "{\"h\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,%d]}}",
          dtype, n, 2 * n);
  len = build(buf, json, data, (size_t)(2 * n));
  loads(dtype, buf, len, &f);
  assert_string_equal(f.tensors[0].dtype, dtype);
  for (i = 0; i < n; i++) {
    if (bits_of(f.tensors[0].data[i]) != want[i]) {
      print_error("%s 0x%04x: got 0x%08x, want 0x%08x\n", dtype, in[i],
                  bits_of(f.tensors[0].data[i]), want[i]);
      fail();
    }
  }
  st_free(&f);
}

static void test_st_f16(void **state) {
  /* hand-computed: sign | (exp - 15 + 127) << 23 | mant << 13, denormals
     renormalised */
  static const uint16_t in[] = {
      0x3C00, /* 1.0 */
      0x0001, /* 2^-24, the smallest denormal */
      0x03FF, /* 1023 * 2^-24, the largest denormal */
      0x0200, /* 2^-15 */
      0x0400, /* 2^-14, the smallest normal */
      0x7BFF, /* 65504, the largest finite */
      0x7C00, /* inf */
      0xFC00, /* -inf */
      0x7E00, /* quiet NaN */
      0x7C01, /* signalling NaN, payload kept */
      0x8000, /* -0 */
      0x8001, /* -2^-24 */
      0xC000, /* -2 */
      0x3555, /* 0.33325195 */
  };
  static const uint32_t want[] = {
      0x3F800000, 0x33800000, 0x387FC000, 0x38000000, 0x38800000,
      0x477FE000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F802000,
      0x80000000, 0xB3800000, 0xC0000000, 0x3EAAA000,
  };
  (void)state;
  check_16("F16", in, want, (int)(sizeof in / sizeof in[0]));
  assert_true(float_of(want[1]) == 1.0f / 16777216.0f);
  assert_true(float_of(want[5]) == 65504.0f);
}

static void test_st_bf16(void **state) {
  static const uint16_t in[] = {0x3F80, 0xC049, 0x0001, 0x7F7F,
                                0x7F80, 0xFFC0, 0x8000, 0x0080};
  static const uint32_t want[] = {0x3F800000, 0xC0490000, 0x00010000,
                                  0x7F7F0000, 0x7F800000, 0xFFC00000,
                                  0x80000000, 0x00800000};
  (void)state;
  check_16("BF16", in, want, (int)(sizeof in / sizeof in[0]));
  assert_true(float_of(want[1]) == -3.140625f);
}

static void test_st_f64(void **state) {
  static const uint64_t in[] = {
      0x3FB999999999999Aull, /* 0.1 */
      0x3FF0000010000000ull, /* 1 + 2^-24: a tie, to even */
      0x3FF0000030000000ull, /* 1 + 3 * 2^-24: a tie, to even (up) */
      0x47EFFFFFEFFFFFFFull, /* just under FLT_MAX + half an ulp */
      0x47EFFFFFF0000000ull, /* FLT_MAX + half an ulp: to inf */
      0xC7EFFFFFF0000000ull, /* the same, negative */
      0x7FF0000000000000ull, /* inf */
      0x7FF8000000000000ull, /* NaN */
      0xFFF8000000000000ull, /* -NaN */
      0x8000000000000000ull, /* -0 */
      0x36A0000000000000ull, /* 2^-149, the smallest float denormal */
      0x3690000000000000ull, /* 2^-150: a tie, to 0 */
      0x7E37E43C8800759Cull, /* 1e300 */
  };
  static const uint32_t want[] = {
      0x3DCCCCCD, 0x3F800000, 0x3F800002, 0x7F7FFFFF, 0x7F800000,
      0xFF800000, 0x7F800000, 0x7FC00000, 0xFFC00000, 0x80000000,
      0x00000001, 0x00000000, 0x7F800000,
  };
  char json[128];
  unsigned char data[8 * 13], buf[MAXFILE];
  StFile f;
  size_t len;
  int i, n = (int)(sizeof in / sizeof in[0]);
  (void)state;
  for (i = 0; i < n; i++)
    put_le(data + 8 * i, in[i], 8);
  sprintf(json,
          "{\"d\":{\"dtype\":\"F64\",\"shape\":[%d],\"data_offsets\":[0,%d]}}",
          n, 8 * n);
  len = build(buf, json, data, (size_t)(8 * n));
  loads("f64", buf, len, &f);
  for (i = 0; i < n; i++) {
    if (bits_of(f.tensors[0].data[i]) != want[i]) {
      print_error("F64 %d: got 0x%08x, want 0x%08x\n", i,
                  bits_of(f.tensors[0].data[i]), want[i]);
      fail();
    }
  }
  st_free(&f);
}

/* Scalars, empty tensors, metadata, white space, key order, escapes,
   padding, and the num_batches_tracked counters that are dropped. */
static void test_st_layouts(void **state) {
  static const char json[] =
      "{\n\t\"__metadata__\" : {\"format\": \"pt\", \"q\": \"\\\"\\\\\\/"
      "\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"},\r\n"
      "  \"s\": {\"shape\": [], \"data_offsets\": [0, 4], \"dtype\": "
      "\"F32\"},\n"
      "  \"e\": {\"data_offsets\": [4, 4], \"dtype\": \"F16\", \"shape\": "
      "[0, 5]},\n"
      "  \"bn.num_batches_tracked\": {\"dtype\": \"I64\", \"shape\": [], "
      "\"data_offsets\": [4, 12]},\n"
      "  \"num_batches_tracked\": {\"dtype\": \"U8\", \"shape\": [8], "
      "\"data_offsets\": [12, 20]},\n"
      "  \"caf\\u00e9 \\ud83d\\ude00 \xE2\x82\xAC\": {\"dtype\": \"F32\", "
      "\"shape\": [1, 1, 1, 1, 1, 1, 1, 1], \"data_offsets\": [20, 24]}\n"
      "}        ";
  unsigned char buf[MAXFILE];
  StFile f;
  const StTensor *t;
  size_t n = build(buf, json, NULL, 24);
  (void)state;
  loads("layouts", buf, n, &f);
  assert_int_equal(f.count, 3);
  /* in header order */
  assert_string_equal(f.tensors[0].name, "s");
  assert_string_equal(f.tensors[1].name, "e");
  t = &f.tensors[0];
  assert_int_equal(t->ndim, 0);
  assert_int_equal(st_numel(t), 1);
  assert_int_equal(bits_of(t->data[0]), 0x03020100u);
  t = st_find(&f, "e");
  assert_non_null(t);
  assert_int_equal(t->ndim, 2);
  assert_int_equal(st_numel(t), 0);
  assert_non_null(t->data);
  t = st_find(&f, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC");
  assert_non_null(t);
  assert_int_equal(t->ndim, 8);
  assert_null(st_find(&f, "bn.num_batches_tracked"));
  st_free(&f);
  /* an empty file */
  n = build(buf, "{}", NULL, 0);
  loads("empty", buf, n, &f);
  assert_int_equal(f.count, 0);
  st_free(&f);
}

/* Long and odd names are quoted safely and briefly in messages. */
static void test_st_message_names(void **state) {
  char json[1024], name[401];
  unsigned char buf[MAXFILE];
  char err[512];
  StFile f;
  size_t n;
  (void)state;
  memset(name, 'x', 400);
  name[400] = '\0';
  sprintf(json,
          "{\"%s\":{\"dtype\":\"I32\",\"shape\":[1],"
          "\"data_offsets\":[0,4]}}",
          name);
  n = build(buf, json, NULL, 4);
  fails_with("long name", buf, n, "xxx...' has dtype I32");
  assert_int_equal(st_load_mem(buf, n, &f, err, sizeof err), -1);
  assert_true(strlen(err) < 160);
  /* a tiny or absent message buffer is not overrun */
  memset(err, '#', sizeof err);
  assert_int_equal(st_load_mem(buf, n, &f, err, 8), -1);
  assert_int_equal(strlen(err), 7);
  assert_int_equal(err[8], '#');
  assert_int_equal(st_load_mem(buf, n, &f, NULL, 0), -1);
  assert_int_equal(st_load_mem(buf, n, &f, err, 0), -1);
}

/* ---------------------------------------------------------- files */

static void test_st_file_errors(void **state) {
  char err[256];
  StFile f;
  (void)state;
  assert_int_equal(st_load("/nonexistent/x.safetensors", &f, err, sizeof err),
                   -1);
  assert_string_equal(err, "cannot open: no such file or directory");
  assert_null(f.tensors);
  assert_int_equal(st_load("/tmp", &f, err, sizeof err), -1);
  assert_string_equal(err, "not a regular file");
}

/* Hostile files on disk give the same messages as in memory. */
static void test_st_file_hostile(void **state) {
  unsigned char buf[MAXFILE];
  char path[64], err[512];
  StFile f;
  size_t i, n;
  (void)state;
  temp_path(path);
  for (i = 0; i < sizeof BAD / sizeof BAD[0]; i += 3) {
    n = build(buf, BAD[i].json, NULL, BAD[i].dlen);
    write_file(path, buf, n);
    err[0] = '\0';
    assert_int_equal(st_load(path, &f, err, sizeof err), -1);
    if (strstr(err, BAD[i].want) == NULL) {
      print_error("%s on disk: \"%s\"\n", BAD[i].label, err);
      fail();
    }
  }
  unlink(path);
}

/* Writes tensors with st_save and reads them back bit for bit. */
static void test_st_save_roundtrip(void **state) {
  /* names that need JSON escapes, and UTF-8 */
  static const char *names[] = {"conv.weight",       "b",     "q\"uo\\te\x01\n",
                                "\xC3\xA9t\xC3\xA9", "empty", "s"};
  static const int ndims[] = {3, 1, 2, 1, 2, 0};
  static const int64_t shapes[][3] = {{2, 3, 4}, {3}, {1, 1}, {1}, {0, 7}, {0}};
  float a[24], b[3] = {1.0f, -0.0f, 3e38f}, s[1] = {-7.5f};
  float *datas[] = {a, b, s, s, NULL, s};
  StTensor t[6];
  StFile f;
  char path[64], err[256];
  int i, k;
  (void)state;
  for (i = 0; i < 24; i++)
    a[i] = (float)i * 0.37f - 3.0f;
  memset(t, 0, sizeof t);
  for (i = 0; i < 6; i++) {
    t[i].name = (char *)names[i];
    t[i].ndim = ndims[i];
    memcpy(t[i].shape, shapes[i], sizeof shapes[i]);
    t[i].data = datas[i];
  }
  temp_path(path);
  assert_int_equal(st_save(path, t, 6, err, sizeof err), 0);
  if (st_load(path, &f, err, sizeof err) != 0) {
    print_error("reload: %s\n", err);
    fail();
  }
  assert_int_equal(f.count, 6);
  for (i = 0; i < 6; i++) {
    const StTensor *g = st_find(&f, names[i]);
    assert_non_null(g);
    assert_string_equal(g->dtype, "F32");
    assert_int_equal(g->ndim, t[i].ndim);
    for (k = 0; k < t[i].ndim; k++)
      assert_int_equal(g->shape[k], t[i].shape[k]);
    for (k = 0; k < st_numel(g); k++)
      assert_int_equal(bits_of(g->data[k]), bits_of(t[i].data[k]));
  }
  st_free(&f);
  /* the header is padded to 8 bytes */
  {
    struct stat st;
    FILE *fp = fopen(path, "rb");
    unsigned char len8[8];
    uint64_t hlen = 0;
    assert_non_null(fp);
    assert_int_equal(fread(len8, 1, 8, fp), 8);
    fclose(fp);
    for (i = 7; i >= 0; i--)
      hlen = hlen << 8 | len8[i];
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, 8 + hlen + 4 * (24 + 3 + 1 + 1 + 1));
  }
  unlink(path);
}

static void test_st_save_errors(void **state) {
  float x[2] = {1, 2};
  StTensor t[2];
  char path[64], err[256];
  (void)state;
  temp_path(path);
  memset(t, 0, sizeof t);
  char na[] = "a", nmeta[] = "__metadata__", ncafe[] = "caf\xE9", nb[] = "b";
  t[0].name = na;
  t[0].ndim = 1;
  t[0].shape[0] = 2;
  t[0].data = x;
  t[1] = t[0];
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_string_equal(err, "duplicate tensor name 'a'");
  t[1].name = nmeta;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "is not a tensor name"));
  t[1].name = ncafe;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "is not UTF-8"));
  t[1].name = NULL;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "has no name"));
  t[1].name = nb;
  t[1].ndim = 9;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad ndim 9"));
  t[1].ndim = 1;
  t[1].shape[0] = -2;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad shape"));
  t[1].shape[0] = 2;
  t[1].data = NULL;
  assert_int_equal(st_save(path, t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "has no data"));
  t[1].data = x;
  assert_int_equal(
      st_save("/nonexistent/dir/x.safetensors", t, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot create: no such file"));
  assert_int_equal(st_save(path, t, 2, err, sizeof err), 0);
  unlink(path);
}

/* --------------------------------------------- the Python fixture */

/* Compares one "st FILE TENSOR DTYPE NDIM DIMS... NUMEL BITS..." line. */
static void check_fixture_line(char *line, StFile *f, const char *file) {
  char *tok = strtok(line, " \n"), *name, *dtype;
  const StTensor *t;
  int ndim, k;
  long numel;
  assert_string_equal(strtok(NULL, " \n"), file);
  name = strtok(NULL, " \n");
  dtype = strtok(NULL, " \n");
  t = st_find(f, name);
  if (t == NULL) {
    print_error("fixture tensor '%s' not loaded\n", name);
    fail();
  }
  assert_string_equal(t->dtype, dtype);
  ndim = atoi(strtok(NULL, " \n"));
  assert_int_equal(t->ndim, ndim);
  for (k = 0; k < ndim; k++)
    assert_int_equal(t->shape[k], atol(strtok(NULL, " \n")));
  numel = atol(strtok(NULL, " \n"));
  assert_int_equal(st_numel(t), numel);
  for (k = 0; k < numel; k++) {
    uint32_t want = (uint32_t)strtoul(strtok(NULL, " \n"), NULL, 16);
    if (bits_of(t->data[k]) != want) {
      print_error("%s[%d]: got 0x%08x (%.9g), torch says 0x%08x (%.9g)\n", name,
                  k, bits_of(t->data[k]), (double)t->data[k], want,
                  (double)float_of(want));
      fail();
    }
  }
  (void)tok;
}

static void test_st_python_fixture(void **state) {
  static char line[65536];
  FILE *fp = fopen(FIXTURES "expected.txt", "r");
  StFile f;
  char err[256];
  int lines = 0, count = -1;
  (void)state;
  if (fp == NULL) {
    print_error("cannot open " FIXTURES "expected.txt: run from the "
                "repository root\n");
    fail();
  }
  if (st_load(FIXTURES "weights.safetensors", &f, err, sizeof err) != 0) {
    print_error("weights.safetensors: %s\n", err);
    fail();
  }
  while (fgets(line, sizeof line, fp) != NULL) {
    if (strncmp(line, "count weights.safetensors ", 26) == 0)
      count = atoi(line + 26);
    if (strncmp(line, "st ", 3) != 0) continue;
    check_fixture_line(line, &f, "weights.safetensors");
    lines++;
  }
  fclose(fp);
  assert_int_equal(f.count, count);
  assert_int_equal(lines, count);
  assert_true(lines >= 8);
  st_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_st_hostile_headers),
      cmocka_unit_test(test_st_nul_after_json),
      cmocka_unit_test(test_st_depth_limit),
      cmocka_unit_test(test_st_short_files),
      cmocka_unit_test(test_st_truncated_everywhere),
      cmocka_unit_test(test_st_header_cap),
      cmocka_unit_test(test_st_mutations),
      cmocka_unit_test(test_st_f32),
      cmocka_unit_test(test_st_f16),
      cmocka_unit_test(test_st_bf16),
      cmocka_unit_test(test_st_f64),
      cmocka_unit_test(test_st_layouts),
      cmocka_unit_test(test_st_message_names),
      cmocka_unit_test(test_st_file_errors),
      cmocka_unit_test(test_st_file_hostile),
      cmocka_unit_test(test_st_save_roundtrip),
      cmocka_unit_test(test_st_save_errors),
      cmocka_unit_test(test_st_python_fixture),
  };
  return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
