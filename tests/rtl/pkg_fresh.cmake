# ctest rtl_pkg_fresh: the package verilated at configure time is what floe_rtl_gen prints now
# (a stale package would mean the RTL no longer matches isa/).
execute_process(COMMAND ${GEN} RESULT_VARIABLE rc OUTPUT_VARIABLE now)
file(READ ${PKG} configured)
if(rc OR NOT now STREQUAL configured)
  message(FATAL_ERROR "0 passed, 1 failed: ${PKG} differs from floe_rtl_gen's output: rerun cmake")
endif()
message("1 passed, 0 failed")
