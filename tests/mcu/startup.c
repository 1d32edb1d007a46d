/* startup.c: the bare-metal floor under the Cortex-M harness (main.c):
 * a vector table, a reset handler that copies .data, clears .bss and
 * turns the FPU on, and the few ARM semihosting calls (BKPT 0xAB) the
 * harness needs to read and write host files and to exit. No newlib
 * start-up code or syscalls are linked; libc gives only memcpy/memset
 * (which gcc emits for some loops) and libgcc the soft-float helpers on
 * Cortex-M0. Runs under qemu-system-arm -semihosting (see run.sh). */
#include <stddef.h>
#include <stdint.h>

#include "semihost.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
int main(void);

/* Semihosting operation numbers (ARM's "Semihosting for AArch32 and
 * AArch64", section 6). */
enum {
  SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05,
  SYS_READ = 0x06, SYS_EXIT = 0x18
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static int sh_call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

int sh_open(const char *path, int write) {
  size_t n = 0;
  while (path[n]) n++;
  uintptr_t a[3] = {(uintptr_t)path, write ? 5u : 1u /* "wb" : "rb" */, n};
  return sh_call(SYS_OPEN, a);
}

/* Both return the number of bytes actually moved. */
size_t sh_read(int fd, void *buf, size_t n) {
  uintptr_t a[3] = {(uintptr_t)fd, (uintptr_t)buf, n};
  return n - (size_t)sh_call(SYS_READ, a);
}

size_t sh_write(int fd, const void *buf, size_t n) {
  uintptr_t a[3] = {(uintptr_t)fd, (uintptr_t)buf, n};
  return n - (size_t)sh_call(SYS_WRITE, a);
}

void sh_close(int fd) {
  uintptr_t a[1] = {(uintptr_t)fd};
  sh_call(SYS_CLOSE, a);
}

void sh_puts(const char *s) { sh_call(SYS_WRITE0, s); }

/* QEMU maps ApplicationExit to status 0 and every other reason to 1. */
void sh_exit(int status) {
  for (;;)
    sh_call(SYS_EXIT, (const void *)(uintptr_t)(status == 0
                                ? ADP_STOPPED_APPLICATION_EXIT
                                : ADP_STOPPED_RUNTIME_ERROR));
}

static void fault(void) {
  sh_puts("mcu: error: fault exception\n");
  sh_exit(1);
}

void reset(void) {
#if defined(__ARM_FP)
  /* CPACR: full access to CP10 and CP11 (the FPU), before any float code. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  for (uint32_t *s = _sidata, *d = _sdata; d < _edata;) *d++ = *s++;
  for (uint32_t *d = _sbss; d < _ebss;) *d++ = 0;
  sh_exit(main());
}

/* Initial stack pointer, reset, then NMI, HardFault and the configurable
 * faults; interrupts stay disabled, so 16 entries are enough. */
__attribute__((section(".vectors"), used))
static void (*const vectors[16])(void) = {
  (void (*)(void))(uintptr_t)_estack, reset, fault, fault, fault, fault, fault,
};
