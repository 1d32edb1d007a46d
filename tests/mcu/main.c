/* main.c: runs one generated model on a Cortex-M under QEMU (run.sh).
 *
 *   arm-none-eabi-gcc ... -DMODEL=lenet5 -DUMODEL=LENET5 \
 *       -DMODEL_H='"lenet5.h"' main.c startup.c lenet5.c -T mps2.ld
 *
 * Reads MODEL's input from the host file input.bin (raw little-endian
 * float32, exactly MODEL's input size) through semihosting, runs
 * MODEL_forward_ws once on a zeroed workspace and writes output.bin; then
 * fills the workspace and the output with NaNs, infinities and garbage,
 * runs again and requires the same bits; then reads input.bin again and
 * requires the input buffer untouched. Each forward call sits between
 * mcu_mark_begin() and mcu_mark_end(), where tools/qemu_icount.c counts
 * the instructions executed.
 *
 * Built with -DMCU_CALIBRATE (and no model) it instead runs mcu_spin(N),
 * a loop of exactly 2 N + 1 instructions, between the markers for
 * N = 1000 and N = 100000, so run.sh can check the counts. */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

/* The markers: distinct, never inlined or merged, so the plugin can find
 * them by address (run.sh reads them with nm). */
__attribute__((noipa)) void mcu_mark_begin(void) { __asm__ volatile(""); }
__attribute__((noipa)) void mcu_mark_end(void) { __asm__ volatile("nop"); }

/* void mcu_spin(uint32_t n), n >= 1: n times (subs, bne), then bx lr. */
void mcu_spin(uint32_t n);
__asm__(".syntax unified\n"
        ".text\n"
        ".thumb\n"
        ".global mcu_spin\n"
        ".type mcu_spin, %function\n"
        ".thumb_func\n"
        "mcu_spin:\n"
        "1:\tsubs r0, #1\n"
        "\tbne 1b\n"
        "\tbx lr\n");

#ifdef MCU_CALIBRATE

int main(void) {
  mcu_mark_begin();
  mcu_spin(1000);
  mcu_mark_end();
  mcu_mark_begin();
  mcu_spin(100000);
  mcu_mark_end();
  sh_puts("mcu: calibration loops done\n");
  return 0;
}

#else

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FORWARD_WS CAT(MODEL, _forward_ws)
#define INPUT_SIZE CAT(UMODEL, _INPUT_SIZE)
#define OUTPUT_SIZE CAT(UMODEL, _OUTPUT_SIZE)
#define WORKSPACE_SIZE CAT(UMODEL, _WORKSPACE_SIZE)
#define WS_WORDS ((WORKSPACE_SIZE + 3) / 4 + 1) /* never 0 */

static void put_hex(uint32_t v) {
  char s[11] = "0x";
  for (int i = 0; i < 8; i++) s[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
  s[10] = 0;
  sh_puts(s);
}

static void put_dec(uint32_t v) {
  char s[11];
  int i = 10;
  s[i] = 0;
  do s[--i] = (char)('0' + v % 10); while (v /= 10);
  sh_puts(s + i);
}

static float input[INPUT_SIZE];
static float output[OUTPUT_SIZE], again[OUTPUT_SIZE];
static uint32_t workspace[WS_WORDS];
static uint32_t chunk[256];

/* The stack high-water mark of one call: stack_paint() fills up to
 * STACK_PAINT bytes below the current stack pointer with a pattern,
 * stack_used() finds how far down it was overwritten. */
#define STACK_PAINT (256 * 1024)
#define STACK_MAGIC 0xa5c3e10fu
extern uint32_t _ebss[];

static uintptr_t stack_pointer(void) {
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

static uint32_t *stack_limit(uintptr_t sp) {
  uintptr_t low = sp - STACK_PAINT;
  return low < (uintptr_t)_ebss ? _ebss : (uint32_t *)low;
}

/* Inlined into main, so that main's frame is all above the pointer. */
__attribute__((always_inline)) static inline uintptr_t stack_paint(void) {
  uintptr_t sp = stack_pointer();
  volatile uint32_t *p = (uint32_t *)sp;
  for (uint32_t *low = stack_limit(sp); p > low;) *--p = STACK_MAGIC;
  return sp;
}

static uint32_t stack_used(uintptr_t sp) {
  uint32_t *p = stack_limit(sp);
  while ((uintptr_t)p < sp && *p == STACK_MAGIC) p++;
  return (uint32_t)(sp - (uintptr_t)p);
}

static int fail(const char *what, uint32_t i, uint32_t got, uint32_t want) {
  sh_puts("mcu: error: ");
  sh_puts(what);
  sh_puts(" at index ");
  put_dec(i);
  sh_puts(": ");
  put_hex(got);
  sh_puts(", expected ");
  put_hex(want);
  sh_puts("\n");
  return 1;
}

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Reads input.bin into buf, or compares it with buf when check is set;
 * returns 0 when it holds exactly INPUT_SIZE floats (and they match). */
static int input_file(float *buf, int check) {
  int fd = sh_open("input.bin", 0);
  if (fd < 0) {
    sh_puts("mcu: error: cannot open input.bin\n");
    return 1;
  }
  int status = 0;
  for (uint32_t i = 0; i < INPUT_SIZE && !status;) {
    uint32_t n = INPUT_SIZE - i < 256 ? INPUT_SIZE - i : 256;
    if (sh_read(fd, chunk, 4 * n) != 4 * n) {
      sh_puts("mcu: error: input.bin is shorter than the model's input\n");
      status = 1;
    }
    for (uint32_t j = 0; j < n && !status; j++) {
      if (!check) memcpy(&buf[i + j], &chunk[j], 4);
      else if (bits(buf[i + j]) != chunk[j])
        status = fail("the input was written", i + j, bits(buf[i + j]), chunk[j]);
    }
    i += n;
  }
  if (!status && sh_read(fd, chunk, 1) != 0) {
    sh_puts("mcu: error: input.bin is longer than the model's input\n");
    status = 1;
  }
  sh_close(fd);
  return status;
}

int main(void) {
  if (input_file(input, 0)) return 1;

  uintptr_t sp = stack_paint();
  mcu_mark_begin();
  FORWARD_WS(input, output, workspace);
  mcu_mark_end();
  sh_puts("mcu: stack ");
  put_dec(stack_used(sp));
  sh_puts(" bytes\n");

  int fd = sh_open("output.bin", 1);
  if (fd < 0 || sh_write(fd, output, sizeof output) != sizeof output) {
    sh_puts("mcu: error: cannot write output.bin\n");
    return 1;
  }
  sh_close(fd);

  /* A dirty workspace and output: quiet and signalling NaNs, infinities,
   * the largest float and garbage. */
  static const uint32_t dirt[] = {0x7fc00001u, 0xff800000u, 0xdeadbeefu,
                                  0x7f800001u, 0x7f7fffffu, 0x80000000u};
  for (uint32_t i = 0; i < WS_WORDS; i++) workspace[i] = dirt[i % 6];
  for (uint32_t i = 0; i < OUTPUT_SIZE; i++) memcpy(&again[i], &dirt[i % 6], 4);

  mcu_mark_begin();
  FORWARD_WS(input, again, workspace);
  mcu_mark_end();

  for (uint32_t i = 0; i < OUTPUT_SIZE; i++)
    if (bits(again[i]) != bits(output[i]))
      return fail("the second call (dirty workspace) differs", i,
                  bits(again[i]), bits(output[i]));
  if (input_file(input, 1)) return 1;
  sh_puts("mcu: ok\n");
  return 0;
}

#endif
