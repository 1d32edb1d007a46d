/*
 * safetensors.h - a strict reader (and a tiny F32 writer) for .safetensors
 *
 * A .safetensors file is an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON, then the data area. The JSON is an object mapping each tensor
 * name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
 * (offsets relative to the start of the data area), plus an optional
 * "__metadata__" object of string -> string, which is ignored.
 *
 * Weights files come from strangers, so the reader trusts nothing: the JSON
 * is parsed strictly (depth limit, valid UTF-8, no duplicate keys, no
 * trailing garbage), every size is checked against the file before anything
 * is allocated, and the tensors must tile the data area exactly (no
 * overlaps, no holes, no trailing bytes), as the format requires.
 *
 * F32 is loaded as is; F16, BF16 and F64 are converted to float32. A tensor
 * of any other dtype is an error naming it, except PyTorch's integer
 * `num_batches_tracked` counters (a name equal to or ending in
 * "num_batches_tracked"), which are checked and then dropped silently.
 *
 * Error messages are lowercase, without a final period and without the path:
 * the caller prefixes them ("spec.lua:3: error: weights file 'w.st': ").
 */
#ifndef MODELC_SAFETENSORS_H
#define MODELC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef struct StTensor {
  const char *name;           /* NUL-terminated UTF-8, no embedded NUL
                                 (malloc'd by st_load, the caller's for
                                 st_save) */
  int ndim;                   /* 0 (a scalar) .. ST_MAX_DIMS */
  int64_t shape[ST_MAX_DIMS]; /* shape[0..ndim-1] */
  float *data;                /* float32, converted; never NULL after load */
  const char *dtype;          /* dtype in the file ("F32", "F16", ...) */
} StTensor;

typedef struct StFile {
  StTensor *tensors; /* in the order they appear in the header */
  int count;
} StFile;

/* Loads every tensor of a .safetensors file. Returns 0 on success; on
   failure returns -1, leaves *out empty and writes a message into err. */
int st_load(const char *path, StFile *out, char *err, size_t errlen);
/* The same, refusing a file whose tensors hold more than max_values
   values in all before allocating any of them (a sparse file can declare
   gigabytes and prove them). Only regular files are read. */
int st_load_max(const char *path, uint64_t max_values, StFile *out,
                char *err, size_t errlen);

/* How st_open reads a file. */
typedef struct StOptions {
  uint64_t max_values;  /* as st_load_max */
  int header_only;      /* check the header and the layout against the
                           file's size, read no data: every data is NULL */
  int keep_unsupported; /* keep a tensor of a dtype modelc cannot read
                           (I64, ...) with no data, so the caller can
                           report it where it is used (st_readable) */
} StOptions;
int st_open(const char *path, const StOptions *o, StFile *out, char *err,
            size_t errlen);

/* The message for a zip archive (what torch.save writes). */
#define ST_ZIP_MESSAGE \
  "this is a zip archive, as torch.save writes, not a safetensors file"

/* The same from a buffer holding a whole file (for tests and fuzzing). */
int st_load_mem(const unsigned char *buf, size_t len, StFile *out, char *err,
                size_t errlen);

/* The tensor's dtype is one modelc reads (F32, F16, BF16, F64). */
int st_readable(const StTensor *t);

/* The tensor called name, or NULL. */
const StTensor *st_find(const StFile *f, const char *name);

/* Frees everything st_load allocated; leaves *f empty. Safe on an empty or
   zeroed StFile and when called twice. */
void st_free(StFile *f);

/* Number of elements of t (1 for a scalar). */
int64_t st_numel(const StTensor *t);

/* Writes n float32 tensors (name, ndim, shape, data; dtype is ignored) as a
   .safetensors file, in the given order. Returns 0, or -1 with a message. */
int st_save(const char *path, const StTensor *t, int n, char *err,
            size_t errlen);

#endif
