// Lambda functions for durability tests: every invocation leaves a line in a log file outside
// the journal, so that a test that kills the engine can count how often each task really ran.
//
//   name            behaviour
//   witness         appends "<idempotency key>\t<pid>\t<event as compact JSON>\n" to the log
//                   (one write(2) on an O_APPEND descriptor, done before the function returns)
//                   and returns the event with "witnessed": true added (an object event), or
//                   {"value": <event>, "witnessed": true}
//   witness_slow    the same, after a run time of 1 s (scaled by the engine's time scale), so a
//                   kill often finds it in flight
//
// A failing write raises WitnessLogError. Thread-safe.
#ifndef HPD_ENGINE_WITNESS_FUNCTIONS_H_
#define HPD_ENGINE_WITNESS_FUNCTIONS_H_

#include <filesystem>

#include "common/status.h"
#include "engine/local_functions.h"

namespace hpd::engine {

// Registers both functions, logging to `log` (created if missing). Fails as
// LocalFunctions::Register does.
[[nodiscard]] Status RegisterWitnessFunctions(LocalFunctions& functions,
                                              const std::filesystem::path& log);

}  // namespace hpd::engine

#endif  // HPD_ENGINE_WITNESS_FUNCTIONS_H_
