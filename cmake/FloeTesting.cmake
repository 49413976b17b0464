# Tests: cmocka executables registered with ctest.
# Labels: every test gets "quick" or "long". `ctest -L quick` is the fast inner loop; the full
# suite (both labels) is what scripts/test.sh and CI run.
enable_testing()

# Test timeouts scale with the host (docs/testing.md). Each test's TIMEOUT is sized with a margin of
# 5x or more over its time in the sanitizer build on an idle 2-core host; FLOE_TIMEOUT_SCALE
# multiplies them all. scripts/test.sh sets it from a calibration run: how much slower than the
# reference host this one is right now.
set(FLOE_TIMEOUT_SCALE 1 CACHE STRING "multiplier of every test's timeout (a positive integer)")
if(NOT FLOE_TIMEOUT_SCALE MATCHES "^[1-9][0-9]*$")
  message(FATAL_ERROR "FLOE_TIMEOUT_SCALE must be a positive integer, not '${FLOE_TIMEOUT_SCALE}'")
endif()

# Scales the timeouts of the tests of the current directory, once, when its CMakeLists.txt is done.
# floe_add_test calls it; a directory that registers tests with add_test alone calls it itself.
function(floe_test_directory)
  get_property(done DIRECTORY PROPERTY FLOE_TIMEOUTS_DEFERRED)
  if(NOT done)
    set_property(DIRECTORY PROPERTY FLOE_TIMEOUTS_DEFERRED TRUE)
    cmake_language(DEFER CALL floe_scale_test_timeouts_here)
  endif()
endfunction()
function(floe_scale_test_timeouts_here)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(t ${tests})
    get_test_property(${t} TIMEOUT timeout)
    if(NOT timeout)
      message(FATAL_ERROR "test ${t} has no TIMEOUT: every test states one")
    endif()
    math(EXPR timeout "${timeout} * ${FLOE_TIMEOUT_SCALE}")
    set_tests_properties(${t} PROPERTIES TIMEOUT ${timeout})
  endforeach()
endfunction()
# Refuses a directory whose tests were not scaled (it registered tests without floe_test_directory).
function(floe_check_test_timeouts_scaled dir)
  get_property(tests DIRECTORY ${dir} PROPERTY TESTS)
  get_property(done DIRECTORY ${dir} PROPERTY FLOE_TIMEOUTS_DEFERRED)
  if(tests AND NOT done)
    message(FATAL_ERROR "${dir} registers tests (${tests}) without floe_test_directory(): their timeouts would not scale")
  endif()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    floe_check_test_timeouts_scaled(${sub})
  endforeach()
endfunction()

# floe_add_test(NAME SOURCES a.c b.c LIBS floe_isa [LONG] [TIMEOUT s] [ARGS ...])
function(floe_add_test name)
  floe_test_directory()
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
  # Passive OpenMP waits: ctest -j runs several 2-thread tests on few cores, where libgomp's spinning
  # threads stall each other's barriers (docs/testing.md: one test 1.6 s passive, 176 s spinning).
  set_tests_properties(${name} PROPERTIES LABELS ${label} TIMEOUT ${timeout}
    ENVIRONMENT "FLOE_SOURCE_DIR=${PROJECT_SOURCE_DIR};FLOE_BINARY_DIR=${PROJECT_BINARY_DIR};OMP_NUM_THREADS=2;OMP_WAIT_POLICY=passive")
endfunction()
