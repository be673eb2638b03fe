// SPDX-License-Identifier: GPL-2.0
/*
 * insprof: a QEMU TCG plugin that counts, for each kernel instruction
 * address, how many times it ran between two marks of the guest program.
 *
 * bench/NOTES.md (The machine) explains why: the VM has no PMU and its
 * sampled profiles put samples at the first instruction after a branch,
 * so they weigh functions roughly and lines not at all. Here every
 * kernel instruction executed is counted, on every vCPU, exactly.
 *
 * The guest marks a window by calling code at INSPROF_MARK (a page the
 * program maps there, see bench/insns/insns.c): the first call opens a
 * window, the second closes it and appends its counts to the output file
 * ("window N", then "address count" lines), and so on. bench/insprof/
 * report.py names the addresses.
 *
 * Built on the host against QEMU's plugin API version 1 (QEMU 7.2, which
 * the project's VM runs): its header is not packaged, so the few
 * declarations used are repeated here, as include/qemu/qemu-plugin.h of
 * QEMU 7.2 declares them. QEMU refuses a plugin of another version.
 *
 *   -plugin build/bench/insprof.so,out=FILE
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
						enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags, void *userdata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

/* Must match bench/insns/insns.c. */
#define INSPROF_MARK 0x700000000000ull
/* The kernel's text and modules (x86-64). */
#define KERNEL_START 0xffffffff80000000ull
/* Distinct kernel instructions a run may execute, at most (a power of 2). */
#define SLOTS (1u << 21)

struct slot {
	uint64_t addr;
	uint64_t count;	/* bumped by the translated code itself */
	uint64_t start;	/* count when the window opened */
};

static struct slot *slots;
static const char *out_path;
static unsigned int marks;
/* Translations may run on several vCPU threads at once. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot overflow = { .addr = 1 };

/* The slot of address a (open addressing; slots are never freed). */
static struct slot *slot_of(uint64_t a)
{
	uint64_t h = (a * 0x9e3779b97f4a7c15ull) >> 40, probes;

	for (probes = 0; probes < SLOTS; probes++, h++) {
		struct slot *s = &slots[h & (SLOTS - 1)];

		if (s->addr == a || !s->addr) {
			s->addr = a;
			return s;
		}
	}
	/* Full: counted under a name report.py shows as "(table full)". */
	return &overflow;
}

static void write_window(void)
{
	FILE *f = fopen(out_path, "a");
	size_t i;

	if (!f) {
		perror("insprof: output");
		return;
	}
	fprintf(f, "window %u\n", marks / 2);
	if (overflow.count != overflow.start)
		fprintf(f, "1 %llu\n", (unsigned long long)(overflow.count - overflow.start));
	for (i = 0; i < SLOTS; i++)
		if (slots[i].addr && slots[i].count != slots[i].start)
			fprintf(f, "%llx %llu\n", (unsigned long long)slots[i].addr,
				(unsigned long long)(slots[i].count - slots[i].start));
	fclose(f);
}

/* The guest ran the mark: open or close a window. */
static void mark(unsigned int vcpu, void *userdata)
{
	size_t i;

	(void)vcpu;
	(void)userdata;
	pthread_mutex_lock(&slots_lock);
	if (marks++ % 2 == 0)
		for (i = 0, overflow.start = overflow.count; i < SLOTS; i++)
			slots[i].start = slots[i].count;
	else
		write_window();
	pthread_mutex_unlock(&slots_lock);
}

static void translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	pthread_mutex_lock(&slots_lock);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t a = qemu_plugin_insn_vaddr(insn);

		if (a == INSPROF_MARK)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
		else if (a >= KERNEL_START)
			qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
								   &slot_of(a)->count, 1);
	}
	pthread_mutex_unlock(&slots_lock);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	if (argc != 1 || strncmp(argv[0], "out=", 4)) {
		fprintf(stderr, "insprof: usage: -plugin insprof.so,out=FILE\n");
		return -1;
	}
	out_path = argv[0] + 4;
	remove(out_path);
	slots = calloc(SLOTS, sizeof(*slots));
	if (!slots)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translate);
	return 0;
}
