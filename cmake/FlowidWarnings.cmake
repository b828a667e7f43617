# Warning flags for flowid's own targets (not for generated Cap'n Proto code).
function(flowid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow=local -Wnon-virtual-dtor)
  if(FLOWID_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
