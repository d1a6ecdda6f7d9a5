// Boost.JSON's implementation, compiled into hpd_common rather than linked from the shared
// libboost_json: the interpreter constructs, moves and destroys JSON values on every state, and
// calls across the shared-library boundary cannot be inlined or bound directly (about 6% of
// engine_bench's time on the task-heavy workloads). One translation unit, compiled once.
#include <boost/json/src.hpp>
