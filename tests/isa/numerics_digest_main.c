/* Prints the numeric core's digest; built at -O0 and -O3 (tests/isa/CMakeLists.txt). */
#include <inttypes.h>
#include <stdio.h>

#include "isa/numerics_check.h"

int main(void)
{
    printf("%016" PRIx64 "\n", floe_numerics_digest());
    return 0;
}
