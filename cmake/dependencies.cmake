# Every third-party dependency comes from a Debian package
# (scripts/install-deps.sh installs them).

find_package(Threads REQUIRED)

# RESTinio's exported target uses fmt::fmt without looking for it itself.
find_package(fmt REQUIRED)
find_package(restinio REQUIRED)

find_package(RapidJSON REQUIRED)
add_library(rapidjson_headers INTERFACE)
target_include_directories(rapidjson_headers SYSTEM INTERFACE
  ${RAPIDJSON_INCLUDE_DIRS})

find_package(RocksDB REQUIRED)
find_package(rabbitmq-c REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)

# Debian's CAF 0.17 ships neither a CMake config nor a pkg-config file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
add_library(caf::core UNKNOWN IMPORTED)
set_target_properties(caf::core PROPERTIES
  IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES Threads::Threads)

# TSan builds: libcaf_core is not instrumented, so TSan cannot see how CAF
# orders messages and actors between threads; tests/sanitizers/caf_tsan.cpp
# tells it, compiled into every program that links CAF (docs/hardening.md).
if(RAPI_SANITIZERS STREQUAL "thread")
  set_property(TARGET caf::core APPEND PROPERTY INTERFACE_SOURCES
    ${PROJECT_SOURCE_DIR}/tests/sanitizers/caf_tsan.cpp)
  set_property(TARGET caf::core APPEND PROPERTY INTERFACE_LINK_LIBRARIES
    ${CMAKE_DL_LIBS})
endif()

# The memory allocator of the server (and of the bench's baseline server, so
# that the same-run ratios compare like with like): tcmalloc (Debian
# package libgoogle-perftools-dev) by default. A request allocates and frees
# some 90 small blocks, half of them on another thread than the one that
# allocated them; tcmalloc's per-thread caches took 10-20 % off the server's
# CPU per request against glibc's malloc (bench/performance_notes.md).
# Sanitizer builds keep the system allocator: ASan and TSan replace malloc
# themselves.
set(RAPI_ALLOCATOR "tcmalloc" CACHE STRING
  "Allocator of the server programs: tcmalloc or system")
set_property(CACHE RAPI_ALLOCATOR PROPERTY STRINGS tcmalloc system)
set(RAPI_ALLOCATOR_IN_USE "${RAPI_ALLOCATOR}")
if(RAPI_SANITIZERS)
  set(RAPI_ALLOCATOR_IN_USE system)
endif()
add_library(rapi_allocator INTERFACE)
if(RAPI_ALLOCATOR_IN_USE STREQUAL "tcmalloc")
  find_library(RAPI_TCMALLOC_LIBRARY tcmalloc_minimal)
  if(NOT RAPI_TCMALLOC_LIBRARY)
    message(FATAL_ERROR "tcmalloc_minimal not found: install the Debian "
      "package libgoogle-perftools-dev (scripts/install-deps.sh), or "
      "configure with -DRAPI_ALLOCATOR=system")
  endif()
  # Nothing calls into it by name: keep it even where the linker drops
  # libraries no symbol needs, so that its malloc is the one in effect.
  target_link_libraries(rapi_allocator INTERFACE
    "-Wl,--push-state,--no-as-needed" ${RAPI_TCMALLOC_LIBRARY}
    "-Wl,--pop-state")
elseif(NOT RAPI_ALLOCATOR_IN_USE STREQUAL "system")
  message(FATAL_ERROR
    "RAPI_ALLOCATOR must be tcmalloc or system, not '${RAPI_ALLOCATOR}'")
endif()
