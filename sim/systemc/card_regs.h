/* The register map of Floe's accelerator card (docs/systemc.md, "Register map"). Plain C so a driver
 * written in C (or a firmware model in another virtual platform) can include it as well as C++.
 *
 * All registers are 32 bits, little-endian, at byte offsets from the card's base address. Reads may
 * be of any length inside [0, FLOE_CARD_REG_SPACE) (bursts read consecutive registers and the
 * error window); writes must be whole, 4-byte aligned registers. A write to a read-only register,
 * or an access outside the register space, gets TLM_ADDRESS_ERROR_RESPONSE / TLM_COMMAND_ERROR_RESPONSE.
 *
 * Every command (LOAD, RUN) completes asynchronously: STATUS goes BUSY, then DONE or ERROR, and
 * IRQ_STATUS bit 0 rises (and the interrupt line with it, when IRQ_ENABLE bit 0 is set).
 */
#ifndef FLOE_SIM_SYSTEMC_CARD_REGS_H
#define FLOE_SIM_SYSTEMC_CARD_REGS_H

#define FLOE_CARD_ID_VALUE 0x464C4F45u /* "FLOE" */
#define FLOE_CARD_VERSION_VALUE 1u

/* offsets */
#define FLOE_CARD_ID 0x000          /* RO  FLOE_CARD_ID_VALUE */
#define FLOE_CARD_VERSION 0x004     /* RO  register-map version */
#define FLOE_CARD_CTRL 0x008        /* WO  command bits below; write while BUSY: TLM_GENERIC_ERROR_RESPONSE */
#define FLOE_CARD_STATUS 0x00C      /* RO  state in bits 1:0, flags above */
#define FLOE_CARD_IRQ_ENABLE 0x010  /* RW  bit 0: drive the interrupt line */
#define FLOE_CARD_IRQ_STATUS 0x014  /* RW1C bit 0: a command completed (write 1 to acknowledge) */
#define FLOE_CARD_PROG_ADDR_LO 0x018 /* RW host address of the program container (.flp) */
#define FLOE_CARD_PROG_ADDR_HI 0x01C /* RW */
#define FLOE_CARD_PROG_LEN 0x020    /* RW  its length in bytes */
#define FLOE_CARD_IO_ADDR_LO 0x024  /* RW  host address of the I/O descriptor table */
#define FLOE_CARD_IO_ADDR_HI 0x028  /* RW */
#define FLOE_CARD_IO_COUNT 0x02C    /* RW  descriptors in the table (at most FLOE_CARD_IO_MAX) */
#define FLOE_CARD_CYCLES_LO 0x030   /* RO  simulated cycles of the last RUN */
#define FLOE_CARD_CYCLES_HI 0x034   /* RO */
#define FLOE_CARD_INSNS_LO 0x038    /* RO  instructions executed by the last RUN */
#define FLOE_CARD_INSNS_HI 0x03C    /* RO */
#define FLOE_CARD_ENERGY_PJ_LO 0x040 /* RO energy of the last RUN in picojoules (0 without an energy table) */
#define FLOE_CARD_ENERGY_PJ_HI 0x044 /* RO */
#define FLOE_CARD_FP_LO 0x048       /* RO  fingerprint of the card's machine description */
#define FLOE_CARD_FP_HI 0x04C       /* RO */
#define FLOE_CARD_CLOCK_HZ 0x050    /* RO  chip clock */
#define FLOE_CARD_OPTIONS 0x054     /* RW  bit 0: strict (a read of uninitialised chip memory is an error) */
#define FLOE_CARD_RUNS 0x058        /* RO  RUN commands completed since reset */
#define FLOE_CARD_ERR_MSG 0x100     /* RO  error message window, NUL-terminated text */
#define FLOE_CARD_ERR_MSG_LEN 0x400 /* bytes in the window */
#define FLOE_CARD_REG_SPACE 0x500   /* bytes of register space the card decodes */

/* CTRL bits (several may be written at once; they act in the order RESET, LOAD, RUN) */
#define FLOE_CARD_CTRL_LOAD 0x1u  /* DMA the program container from PROG_ADDR, check and keep it */
#define FLOE_CARD_CTRL_RUN 0x2u   /* inputs in, run the loaded program, outputs out (per the I/O table) */
#define FLOE_CARD_CTRL_RESET 0x4u /* drop the program, clear state, IRQ and error (not while BUSY) */

/* STATUS */
#define FLOE_CARD_STATE_MASK 0x3u
#define FLOE_CARD_STATE_IDLE 0u
#define FLOE_CARD_STATE_BUSY 1u
#define FLOE_CARD_STATE_DONE 2u
#define FLOE_CARD_STATE_ERROR 3u
#define FLOE_CARD_STATUS_LOADED 0x10u /* a program is loaded */

/* I/O descriptor: FLOE_CARD_IO_DESC_BYTES bytes, little-endian, in host memory */
#define FLOE_CARD_IO_DESC_BYTES 96
#define FLOE_CARD_IO_MAX 64
#define FLOE_CARD_IO_DIR 0       /* u32: 0 input (host -> region before the run), 1 output (region -> host after) */
#define FLOE_CARD_IO_X 4         /* u16: core x, or 0xFFFF for the frame buffer */
#define FLOE_CARD_IO_Y 6         /* u16: core y, or 0xFFFF */
#define FLOE_CARD_IO_HOST_ADDR 8 /* u64: host address */
#define FLOE_CARD_IO_LEN 16      /* u32: bytes */
#define FLOE_CARD_IO_OFFSET 20   /* u32: byte offset inside the region */
#define FLOE_CARD_IO_NAME 32     /* char[64]: region name, NUL-padded */
#define FLOE_CARD_IO_NAME_LEN 64

#endif
