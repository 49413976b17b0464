# How each dependency is found (see ../shared/toolchain.md). All come from Debian packages that
# scripts/setup.sh installs.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# cmocka: its CMake config sets variables only, so use pkg-config for an imported target.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# libcsv: no pkg-config file and no CMake config.
find_path(CSV_INCLUDE_DIR csv.h REQUIRED)
find_library(CSV_LIBRARY csv REQUIRED)
add_library(floe_dep_csv INTERFACE)
target_include_directories(floe_dep_csv INTERFACE ${CSV_INCLUDE_DIR})
target_link_libraries(floe_dep_csv INTERFACE ${CSV_LIBRARY})

# cJSON (safetensors headers, trace files).
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)

# OpenBLAS (sgemm for the float parts of training).
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)

# oneDNN (libdnnl-dev): the exact int8 x int8 -> int32 GEMM of the integer forward
# (trainer/igemm.h). Found by header and library: its CMake config also looks for OpenCL.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(floe_dep_dnnl INTERFACE)
target_include_directories(floe_dep_dnnl INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(floe_dep_dnnl INTERFACE ${DNNL_LIBRARY})

# OpenMP for the trainer's parallel loops.
find_package(OpenMP REQUIRED COMPONENTS C)

find_library(MATH_LIBRARY m REQUIRED)
