# Abseil from Debian (libabsl-dev 20220623).
#
# Debian's CMake targets point at the shared objects, but the package also
# ships every component as a static archive. dmkit links the archives so the
# multi-call binary and the guest test programs are fully static. Linking the
# whole set inside one --start-group lets the linker pick only the objects
# that are referenced, so no per-component dependency list has to be kept.
find_package(absl CONFIG REQUIRED)
get_target_property(_absl_base_location absl::base IMPORTED_LOCATION_NONE)
if(NOT _absl_base_location)
  get_target_property(_absl_base_location absl::base IMPORTED_LOCATION)
endif()
if(NOT _absl_base_location)
  get_target_property(_absl_configs absl::base IMPORTED_CONFIGURATIONS)
  list(GET _absl_configs 0 _absl_config)
  get_target_property(_absl_base_location absl::base
                      IMPORTED_LOCATION_${_absl_config})
endif()
get_filename_component(_absl_libdir "${_absl_base_location}" DIRECTORY)
file(GLOB DMKIT_ABSL_ARCHIVES "${_absl_libdir}/libabsl_*.a")
if(NOT DMKIT_ABSL_ARCHIVES)
  message(FATAL_ERROR "no static Abseil archives in ${_absl_libdir}; "
                      "install libabsl-dev (third_party/install-deps.sh)")
endif()
get_target_property(_absl_includes absl::base INTERFACE_INCLUDE_DIRECTORIES)

add_library(dmkit_absl INTERFACE)
target_include_directories(dmkit_absl SYSTEM INTERFACE ${_absl_includes})
target_link_libraries(dmkit_absl INTERFACE
  -Wl,--start-group ${DMKIT_ABSL_ARCHIVES} -Wl,--end-group Threads::Threads)
