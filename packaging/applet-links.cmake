# Makes one symbolic link per applet that `dmkit --list` prints, as
# `dmkit --install -s` would, but pointing at where dmkit is installed rather
# than at the build tree. Run at build time (cmake -P), so the links always
# match the binary's applets.
#   -DDMKIT=<built binary> -DOUT=<directory to fill> -DTARGET=<link target>
foreach(var DMKIT OUT TARGET)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "applet-links.cmake: -D${var}= is required")
  endif()
endforeach()
execute_process(COMMAND ${DMKIT} --list
                OUTPUT_VARIABLE applets RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR applets STREQUAL "")
  message(FATAL_ERROR "applet-links.cmake: '${DMKIT} --list' failed (${rc})")
endif()
string(STRIP "${applets}" applets)
string(REPLACE "\n" ";" applets "${applets}")
# Start empty, so an applet that was removed leaves no stale link behind.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
foreach(applet IN LISTS applets)
  if(NOT applet MATCHES "^[a-z0-9_-]+$")
    message(FATAL_ERROR "applet-links.cmake: unexpected applet name '${applet}'")
  endif()
  file(CREATE_LINK ${TARGET} ${OUT}/${applet} SYMBOLIC)
endforeach()
