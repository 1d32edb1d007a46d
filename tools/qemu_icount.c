/* qemu_icount.c: a QEMU TCG plugin that counts the guest instructions
 * executed between two marker functions, for make bench-mcu.
 *
 *   cc -shared -fPIC -O2 tools/qemu_icount.c -o build/mcu/qemu_icount.so
 *   qemu-system-arm ... -plugin build/mcu/qemu_icount.so,begin=0xADDR,end=0xADDR \
 *       -d plugin -D counts.log
 *
 * Every instruction gets an inline 64-bit add (exact, no helper call);
 * the first instruction of each marker gets a callback that snapshots the
 * counter. Each time the end marker runs, the plugin prints
 * "icount N", N the instructions executed since the begin marker ran
 * (the begin marker's own instructions included, so a bare call costs a
 * few: tests/mcu/run.sh calibrates it with a loop of known length).
 *
 * Debian's QEMU 7.2 loads plugins but ships no qemu-plugin.h, so the few
 * entries of QEMU's public plugin API (version 1) used here are declared
 * below, as QEMU's include/qemu/qemu-plugin.h defines them. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
                                            void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                 size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

EXPORT int qemu_plugin_version = 1;

static uint64_t executed;        /* instructions so far (one vCPU) */
static uint64_t begin_pc, end_pc; /* the markers' addresses */
static uint64_t at_begin;         /* executed when begin last ran */
static int inside;                /* begin ran, end not yet */
static unsigned intervals;

static void on_begin(unsigned int vcpu, void *udata) {
  (void)vcpu, (void)udata;
  at_begin = executed;
  inside = 1;
}

static void on_end(unsigned int vcpu, void *udata) {
  (void)vcpu, (void)udata;
  if (!inside) return;
  char s[64];
  snprintf(s, sizeof s, "icount %" PRIu64 "\n", executed - at_begin);
  qemu_plugin_outs(s);
  inside = 0;
  intervals++;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    /* Count first, then snapshot: a marker counts its own first
     * instruction in the interval it opens, not in the one it closes. */
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                               &executed, 1);
    if (pc == begin_pc)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin,
                                             QEMU_PLUGIN_CB_NO_REGS, NULL);
    else if (pc == end_pc)
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end,
                                             QEMU_PLUGIN_CB_NO_REGS, NULL);
  }
}

static void on_atexit(qemu_plugin_id_t id, void *udata) {
  (void)id, (void)udata;
  char s[80];
  snprintf(s, sizeof s, "icount total %" PRIu64 " intervals %u\n", executed,
           intervals);
  qemu_plugin_outs(s);
}

/* Parses "name=0xHEX" into *v; returns 1 when arg is that option. */
static int option(const char *arg, const char *name, uint64_t *v) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') return 0;
  char *end;
  *v = strtoull(arg + n + 1, &end, 0);
  return *end == 0 && end != arg + n + 1;
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                               int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; i++)
    if (!option(argv[i], "begin", &begin_pc) && !option(argv[i], "end", &end_pc)) {
      fprintf(stderr, "qemu_icount: error: unknown argument '%s' "
              "(expected begin=ADDR,end=ADDR)\n", argv[i]);
      return 1;
    }
  if (!begin_pc || !end_pc) {
    fprintf(stderr, "qemu_icount: error: give begin=ADDR and end=ADDR\n");
    return 1;
  }
  /* Thumb function symbols carry bit 0; instruction addresses do not. */
  begin_pc &= ~(uint64_t)1;
  end_pc &= ~(uint64_t)1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
  return 0;
}
