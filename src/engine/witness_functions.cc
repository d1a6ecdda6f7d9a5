#include "engine/witness_functions.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/json.h"

namespace hpd::engine {
namespace {

StatusOr<boost::json::value> Witness(const std::string& log, const boost::json::value& event,
                                     const LambdaContext& context) {
  std::string line(context.idempotency_key);
  line += '\t';
  line += std::to_string(::getpid());
  line += '\t';
  AppendJson(event, &line);
  line += '\n';
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(StatusCode::kUnavailable, "cannot open " + log + ": " + std::strerror(errno))
        .SetErrorName("WitnessLogError");
  }
  const ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    return Status(StatusCode::kUnavailable, "cannot write " + log)
        .SetErrorName("WitnessLogError");
  }
  if (event.is_object()) {
    boost::json::object out = event.as_object();
    out["witnessed"] = true;
    return boost::json::value(std::move(out));
  }
  return boost::json::value(boost::json::object{{"value", event}, {"witnessed", true}});
}

}  // namespace

Status RegisterWitnessFunctions(LocalFunctions& functions, const std::filesystem::path& log) {
  auto handler = [log = log.string()](const boost::json::value& event,
                                      const LambdaContext& context) {
    return Witness(log, event, context);
  };
  if (Status status = functions.Register("witness", handler); !status.ok()) return status;
  FunctionOptions slow;
  slow.run_time = std::chrono::seconds(1);
  return functions.Register("witness_slow", handler, slow);
}

}  // namespace hpd::engine
