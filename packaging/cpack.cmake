# `cpack -G DEB` in the build directory: two Debian packages.
#   dmkit      the static binary (/usr/sbin/dmkit), its applet links, the
#              initramfs-tools hook, the dracut module, and whatever else is
#              installed outside the "dev" component (man pages, completion)
#   dmkit-dev  the "dev" component: dmioctl and mountns headers, static
#              libraries, CMake packages, pkg-config files
# Included at the end of the top-level CMakeLists.txt (a deferred call from
# packaging/CMakeLists.txt), when every install rule is known.
include(${CMAKE_CURRENT_LIST_DIR}/debian/meta.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dmkit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${DMKIT_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debian ships binaries stripped (install(TARGETS) strips at install time).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${DMKIT_DEB_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Directories 0755 whatever the builder's umask (lintian checks).
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)

set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/debian/compress-man.cmake)

set(CPACK_DEB_COMPONENT_INSTALL ON)
get_cmake_property(dmkit_components COMPONENTS)
foreach(component IN LISTS dmkit_components)
  string(TOUPPER "${component}" upper)
  if(component STREQUAL "dev")
    set(CPACK_COMPONENT_${upper}_GROUP dev)
  else()
    set(CPACK_COMPONENT_${upper}_GROUP dmkit)
  endif()
endforeach()
set(CPACK_COMPONENTS_ALL ${dmkit_components})

set(CPACK_DEBIAN_DMKIT_PACKAGE_NAME dmkit)
set(CPACK_DEBIAN_DMKIT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_DMKIT_DESCRIPTION
"device-mapper and mount-namespace toolkit for rescue images
dmkit is one statically linked multi-call binary that drives Linux
device-mapper through raw ioctls on /dev/mapper/control (no libdevmapper,
no udev) and enters mount namespaces with setns. Its applets: dmsetup
(compatible with dmsetup without udev), nsenter, holders (what keeps a
block device busy, in every mount namespace), docker (Docker's
devicemapper storage: inspect, mount, recover) and bench.
.
The applet links are in /usr/lib/dmkit/bin, so that nothing here takes
the place of the dmsetup or util-linux programs; run 'dmkit APPLET' or put
that directory first on PATH. An initramfs-tools hook and a dracut module
put dmkit and the links into every initramfs built while it is installed.")
if(DMKIT_APPLET_LINKS_IN_SBINDIR)
  # /usr/sbin/dmsetup is the dmsetup package's.
  set(CPACK_DEBIAN_DMKIT_PACKAGE_CONFLICTS dmsetup)
endif()

set(CPACK_DEBIAN_DEV_PACKAGE_NAME dmkit-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The CMake packages and pkg-config files name Abseil's.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS libabsl-dev)
set(CPACK_DEBIAN_DEV_DESCRIPTION
"device-mapper and mount-namespace libraries of dmkit (development files)
Static C++20 libraries with their headers, CMake packages and pkg-config
files: dmioctl, the Linux device-mapper ioctl protocol (every ioctl of
interface 4.x, table parsing, target builders, multi-step operations with
rollback), and mountns, mount namespaces and mounts across them. Errors
are absl::Status values carrying the errno.")

include(CPack)
