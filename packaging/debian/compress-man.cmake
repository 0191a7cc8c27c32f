# CPACK_PRE_BUILD_SCRIPTS step: Debian ships manual pages compressed with
# `gzip -9n` (Policy 12.1; lintian errors otherwise), while `cmake --install`
# installs them as written. Compresses every page in the staging tree and
# points links to pages at the compressed names.
file(GLOB_RECURSE files LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/*")
foreach(page IN LISTS files)
  if(NOT page MATCHES "/share/man/" OR page MATCHES "\\.gz$")
    continue()
  endif()
  if(IS_SYMLINK "${page}")
    file(READ_SYMLINK "${page}" target)
    file(REMOVE "${page}")
    if(NOT target MATCHES "\\.gz$")
      string(APPEND target ".gz")
    endif()
    file(CREATE_LINK "${target}" "${page}.gz" SYMBOLIC)
  else()
    execute_process(COMMAND gzip -9nf "${page}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip -9n ${page} failed (${rc})")
    endif()
  endif()
endforeach()
