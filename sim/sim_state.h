/* Internal state of the simulator, shared by sim/sim.c (scheduling, networks, synchronisation) and
 * sim/exec.c (the functional semantics of the core-local instructions). Not a public header. */
#ifndef FLOE_SIM_SIM_STATE_H
#define FLOE_SIM_SIM_STATE_H

#include "isa/insn.h"
#include "sim/event_queue.h"
#include "sim/fifo.h"
#include "sim/noc.h"
#include "sim/sim.h"
#include "sim/trace.h"
#include "sim/vmm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_LOOP_DEPTH 64
#define SIM_CHANNELS 16
#define SIM_VMM_CACHE 16

typedef enum { TS_RUN, TS_SEM, TS_BAR, TS_RECV, TS_PRECV, TS_DONE } sim_thread_state;

typedef struct sim_loop {
    size_t start, end;    /* thread-local positions of the body */
    uint32_t remaining;
    uint8_t reg;
    int32_t stride;
} sim_loop;

typedef struct sim_thread {
    size_t *idx;          /* stream indices of this thread's instructions; owned */
    size_t n, pc;         /* count; position of the next instruction */
    int32_t r[8];
    sim_loop loop[SIM_LOOP_DEPTH];
    int depth;
    sim_thread_state state;
    uint64_t since;       /* cycle it blocked */
    unsigned wait_tok, wait_n, bar_id;
    floe_fifo *wait_fifo;
    uint64_t wait_bytes;
} sim_thread;

typedef struct sim_act_fifo {
    uint16_t src;         /* source core id */
    uint8_t ch;
    floe_fifo fifo;
} sim_act_fifo;

typedef struct sim_vmm_entry {
    uint64_t addr, bytes; /* the packed weights in core memory */
    uint32_t k, n;
    int wp;
    int initialised;      /* every weight byte was written when last checked (stays so) */
    floe_vmm_weights w;   /* int4: a view of the bytes at addr (row sums only); int8/int2: expanded */
    uint64_t last_use;
} sim_vmm_entry;

typedef struct sim_core {
    unsigned x, y, id;
    const floe_core_code *code; /* NULL: no code */
    floe_memory mem;
    int32_t *acc;               /* FLOE_ACCUMULATORS; owned */
    sim_thread th[FLOE_THREADS];
    uint32_t sem[FLOE_SEMAPHORES];
    uint8_t bar_arrived[256];   /* per barrier id: threads arrived */
    uint64_t unit_free[FLOE_UNIT_COUNT];
    uint64_t sram_free;         /* the core memory's port: reads + writes at sram_bytes_per_cycle */
    sim_act_fifo *act_in;       /* activation-network receive queues in use; owned */
    size_t n_act_in, cap_act_in;
    floe_fifo psum_in[4][SIM_CHANNELS]; /* partial sums arriving from n, e, s, w */
    sim_vmm_entry vmm_cache[SIM_VMM_CACHE];
    size_t n_vmm_cache;
    uint64_t vmm_clock;
    uint32_t *region_of;        /* per stream instruction: region index; owned */
    floe_core_stats stats;
} sim_core;

struct floe_sim {
    floe_machine m;
    floe_energy_cost cost;
    int have_energy;
    unsigned cols, rows;
    size_t ncores;
    sim_core *cores;
    floe_memory fb;
    uint64_t fb_free;           /* the frame-buffer port, shared by the chip */
    floe_noc_model noc[FLOE_NOC_COUNT];
    floe_event_queue q;
    const floe_program *prog;
    floe_region_stats *regions; /* owned */
    size_t nregions, cap_regions;
    floe_sim_result result;
    floe_core_stats *core_stats; /* snapshot for floe_sim_core_stats; owned */
    int strict;
    floe_trace *trace;          /* during a run: &trace_storage, or NULL */
    floe_trace trace_storage;
    int loaded, ran;
};

/* Bounds-checked effective address of a MEM operand for `bytes` bytes; -1 with err on a fault. */
int sim_mem_operand(floe_sim *s, sim_core *c, sim_thread *t, int64_t field, uint64_t bytes, const char *what,
                    uint64_t *addr, floe_err *err);
/* Accumulator operand: index + register, n accumulators. */
int sim_acc_operand(sim_core *c, sim_thread *t, int64_t field, uint64_t n, uint32_t *index, floe_err *err);
/* Reading and writing core memory through the caches and counters. */
int sim_read(floe_sim *s, sim_core *c, uint64_t addr, uint64_t n, floe_err *err);
void sim_wrote(sim_core *c, uint64_t addr, uint64_t n);

/* Executes a core-local instruction (vmm, vector, afu, mem units, except frame-buffer transfers'
 * timing): applies its effect and returns the unit's work in cycles (before latency) in *cycles.
 * Fills the action counts. */
int sim_exec_local(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                   floe_actions *act, floe_err *err);

/* "core 3 (x=3, y=0) thread 1, instruction 17 (vmm)": the prefix of every fault message. */
int sim_fault(floe_err *err, const sim_core *c, const sim_thread *t, const floe_insn *in, const char *fmt, ...)
    FLOE_PRINTF(5, 6);

#ifdef __cplusplus
}
#endif

#endif
