/*
 * npy.h - a strict NumPy .npy reader and a float32 writer
 *
 * Reads versions 1.0, 2.0 and 3.0: the magic "\x93NUMPY", two version
 * bytes, a little-endian header length (2 bytes in 1.0, 4 after), then a
 * Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * then the data. Only little-endian float32 ('<f4') and float64 ('<f8',
 * converted to float32 as a C cast rounds) in C order are accepted. The
 * file must hold exactly the bytes the header declares: a short file and
 * bytes after the data are both errors.
 *
 * Writes version 1.0, '<f4', C order, with the header padded with spaces
 * and a final '\n' so that the data starts at a multiple of 64 bytes, as
 * numpy does.
 *
 * Functions return 0 on success and -1 on failure, with a message in err
 * (lowercase, no final period, no path: the caller adds it).
 */
#ifndef MODELC_NPY_H
#define MODELC_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

/* Reads an .npy file. On success *data is a malloc'd float32 array of
   product(shape) elements (never NULL, even when empty; free it), *ndim is
   0..NPY_MAX_DIMS and shape[0..ndim-1] holds the shape. On failure *data is
   NULL. */
int npy_read(const char *path, float **data, int *ndim,
             int64_t shape[NPY_MAX_DIMS], char *err, size_t errlen);

/* The same from a buffer holding a whole file. */
int npy_read_mem(const unsigned char *buf, size_t len, float **data, int *ndim,
                 int64_t shape[NPY_MAX_DIMS], char *err, size_t errlen);

/* Writes data[product(shape)] as a version 1.0 '<f4' C-order .npy file. */
int npy_write(const char *path, const float *data, int ndim,
              const int64_t *shape, char *err, size_t errlen);

#endif
