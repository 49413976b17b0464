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

# OpenMP for the trainer's parallel loops.
find_package(OpenMP REQUIRED COMPONENTS C)

find_library(MATH_LIBRARY m REQUIRED)
