# GoogleTest and Google Benchmark from Debian (libgtest-dev, libbenchmark-dev).
# Debian ships GoogleTest as static archives only, which the guest (VM) tests
# need; Google Benchmark is shared only, so benchmark programs copy their
# libraries into the guest.
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG QUIET)
