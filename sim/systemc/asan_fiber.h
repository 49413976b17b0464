// AddressSanitizer's view of the main thread's stack after a SystemC simulation (docs/systemc.md,
// "Sanitizers").
//
// SystemC 2.3.4's QuickThreads back end announces each coroutine switch made by yield() to ASan
// (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber), but not the switch made when
// a thread process ends (sc_cor_pkg_qt::abort). ASan then keeps the ended thread's coroutine stack
// as the main thread's stack. That stack is unmapped when the process is deleted, and later mmaps
// may reuse parts of its range. LeakSanitizer's exit-time scan treats the recorded range as the
// stack (the stack pointer is not in it), starts at its first readable page and faults at the next
// hole: "Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error", at random,
// since the layout depends on address-space randomisation.
#ifndef FLOE_SIM_SYSTEMC_ASAN_FIBER_H
#define FLOE_SIM_SYSTEMC_ASAN_FIBER_H

namespace floe_sc {

// Registers (once per process; later calls do nothing) an exit handler that, when the program
// exits on the main thread's own stack, tells ASan that the main thread runs on that stack again,
// so the exit-time leak check scans the real stack. A no-op in builds without ASan. Card's
// constructor calls it: every program that simulates a card gets it.
void asan_fiber_restore_main_stack_at_exit();

} // namespace floe_sc

#endif
