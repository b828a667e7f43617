# Warning flags for flowid's own targets (not for generated Cap'n Proto code).
function(flowid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wnon-virtual-dtor)
  # Shadowed locals: GCC spells it -Wshadow=local, clang -Wshadow-uncaptured-local.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wshadow=local)
  elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wshadow-uncaptured-local)
  endif()
  # GCC 12 reports false -Wrestrict positives inside libstdc++ for `str + "literal"` at -O2/-O3
  # (GCC bug 105651); with -Werror that breaks correct code, so it is off for GCC 12 only.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(FLOWID_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
