// Runs a program with an argv vector (never a shell string), feeding stdin and capturing stdout
// and stderr. For tests that drive the real hpdeploy binary.
#ifndef HPD_TESTS_SUPPORT_SUBPROCESS_H_
#define HPD_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace hpd::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 if the process did not exit normally
  std::string out;
  std::string err;
};

// Blocks until the process exits. argv[0] is the program path. Ignores SIGPIPE in the calling
// process (input the child does not read is dropped). `on_started`, if set, runs with
// the child's pid once it is spawned and before its output is read (to signal it, say); the
// child's writes block meanwhile once a pipe (64 KiB) is full.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                         const std::function<void(pid_t)>& on_started = {});

}  // namespace hpd::testing

#endif  // HPD_TESTS_SUPPORT_SUBPROCESS_H_
