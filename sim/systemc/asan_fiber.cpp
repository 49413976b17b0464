// See asan_fiber.h for why this exists.
#include "sim/systemc/asan_fiber.h"

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>

// Weak: resolved by the sanitizer runtime when it is linked in, null otherwise.
extern "C" {
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size) __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old)
    __attribute__((weak));
}

namespace floe_sc {

static void restore_main_stack()
{
    if (!__sanitizer_start_switch_fiber || !__sanitizer_finish_switch_fiber)
        return;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    void *bottom = nullptr;
    size_t size = 0;
    int rc = pthread_attr_getstack(&attr, &bottom, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0 || !bottom || !size)
        return;
    // Only when exit() runs on the main stack: exiting from inside a SystemC thread leaves ASan's
    // record (then the live coroutine's stack, announced by yield) as it is.
    volatile char here = 0;
    uintptr_t sp = (uintptr_t)&here, lo = (uintptr_t)bottom;
    if (sp < lo || sp >= lo + size)
        return;
    // A switch "to" the stack we are on: ASan records [bottom, bottom + size) as the current stack.
    __sanitizer_start_switch_fiber(nullptr, bottom, size);
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
}

void asan_fiber_restore_main_stack_at_exit()
{
    static std::once_flag once;
    // LeakSanitizer's own exit handler was registered at start-up, before this one: exit handlers
    // run in reverse order, so this one runs first.
    std::call_once(once, [] { std::atexit(restore_main_stack); });
}

} // namespace floe_sc
