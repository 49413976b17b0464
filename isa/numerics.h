/* The numeric core: every integer operation of the numeric contract (docs/numerics.md). */
#ifndef FLOE_ISA_NUMERICS_H
#define FLOE_ISA_NUMERICS_H

#include "isa/lut.h"
#include "isa/quantize.h"
#include "isa/recip.h"
#include "isa/requant.h"
#include "isa/rmsnorm.h"
#include "isa/rope.h"
#include "isa/saturate.h"
#include "isa/silu.h"
#include "isa/softmax.h"
#include "isa/token.h"
#include "isa/vmm.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
