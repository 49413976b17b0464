# Tests: cmocka executables registered with ctest.
# Labels: every test gets "quick" or "long". `ctest -L quick` is the fast inner loop; the full
# suite (both labels) is what scripts/test.sh and CI run.
enable_testing()

# floe_add_test(NAME SOURCES a.c b.c LIBS floe_isa [LONG] [TIMEOUT s] [ARGS ...])
function(floe_add_test name)
  cmake_parse_arguments(T "LONG" "TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  add_executable(test_${name} ${T_SOURCES})
  target_link_libraries(test_${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND test_${name} ${T_ARGS})
  if(T_LONG)
    set(label long)
    set(timeout 900)
  else()
    set(label quick)
    set(timeout 120)
  endif()
  if(T_TIMEOUT)
    set(timeout ${T_TIMEOUT})
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT ${timeout}
    ENVIRONMENT "FLOE_SOURCE_DIR=${PROJECT_SOURCE_DIR};FLOE_BINARY_DIR=${PROJECT_BINARY_DIR};OMP_NUM_THREADS=2")
endfunction()
