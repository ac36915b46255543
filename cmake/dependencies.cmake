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
