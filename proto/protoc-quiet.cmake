# Runs protoc-c (the command line after "--") and prints its output except
# the "Import X is unused." notes, which it emits for the gogoproto imports
# of Debian's containerd .proto files: those files are not ours to edit, and
# the note says nothing about the generated C.  Anything else protoc prints
# (a real warning, an error) passes through, and its exit status is kept, so
# a build log with no "warning:" line means a clean build.
#   cmake -P protoc-quiet.cmake -- protoc-c ARGS...
set(cmd "")
set(seen_sep FALSE)
foreach(i RANGE 1 ${CMAKE_ARGC})
  if(i EQUAL CMAKE_ARGC)
    break()
  endif()
  if(seen_sep)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(seen_sep TRUE)
  endif()
endforeach()
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX REPLACE "[^\n]*: warning: Import [^\n]* is unused\\.\n?" "" out "${out}")
if(NOT out STREQUAL "")
  message("${out}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "protoc-c failed (${rc})")
endif()
