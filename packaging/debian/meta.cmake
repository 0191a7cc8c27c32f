# Debian package metadata shared by packaging/CMakeLists.txt (the changelog)
# and packaging/cpack.cmake (the control files).
set(DMKIT_DEB_RELEASE 1)
set(DMKIT_DEB_MAINTAINER
    "dmkit maintainers <maintainers@users.noreply.r-seed-73b95a4a.example>")
