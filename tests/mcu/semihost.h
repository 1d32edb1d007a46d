/* semihost.h: the ARM semihosting calls of startup.c. */
#ifndef MODELC_SEMIHOST_H
#define MODELC_SEMIHOST_H

#include <stddef.h>

int sh_open(const char *path, int write); /* a handle, -1 on failure */
size_t sh_read(int fd, void *buf, size_t n);
size_t sh_write(int fd, const void *buf, size_t n);
void sh_close(int fd);
void sh_puts(const char *s);
void sh_exit(int status) __attribute__((noreturn));

#endif
