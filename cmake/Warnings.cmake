# One shared warning list for every target in the project (STYLE.md: Build).
set(HPD_WARNINGS
    -Wall
    -Wextra
    -Wpedantic
    -Wshadow
    -Wconversion
    -Wsign-conversion
    -Wnon-virtual-dtor
    -Wold-style-cast
    -Woverloaded-virtual
    -Wimplicit-fallthrough)

option(HPD_WERROR "Treat warnings as errors (CI sets this)" OFF)
if(HPD_WERROR)
  list(APPEND HPD_WARNINGS -Werror)
endif()

option(HPD_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(HPD_TSAN "Build with ThreadSanitizer (not together with HPD_SANITIZE)" OFF)

# hpd_module(NAME SOURCES... DEPS ...) declares one library target per module.
function(hpd_target_defaults target)
  target_compile_options(${target} PRIVATE ${HPD_WARNINGS})
  target_compile_features(${target} PUBLIC cxx_std_20)
endfunction()
