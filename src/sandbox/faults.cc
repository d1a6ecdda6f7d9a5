#include "sandbox/faults.h"

#include <charconv>
#include <string_view>

namespace hpd::sandbox {
namespace {

struct FaultInfo {
  std::string_view name;
  bool Faults::*flag;  // null for throttle
  std::string_view help;
};

constexpr FaultInfo kFaults[] = {
    {"quota-exhausted", &Faults::quota_exhausted,
     "ListServiceQuotas shows no HyperPod headroom (total quota = usage, per-type quotas 0)"},
    {"insufficient-capacity", &Faults::insufficient_capacity,
     "the HyperPod cluster fails to create; the stack rolls back to ROLLBACK_COMPLETE"},
    {"infraforge-crash", &Faults::infraforge_crash,
     "stack creation stops half-way (CREATE_FAILED, partial resources); InfraForge exits 2"},
    {"deploy-hang", &Faults::deploy_hang,
     "the EKS cluster never finishes creating; the stack stays CREATE_IN_PROGRESS"},
    {"cluster-unhealthy", &Faults::cluster_unhealthy,
     "the stack completes but the first HyperPod instance group is Degraded, nodes in Failure"},
    {"throttle", nullptr,
     "throttle[=N]: the job's first N (default 2, 1..10) cloud API calls, and its first N ECS "
     "RunTask calls, fail with ThrottlingException"},
    {"ssm-write-failure", &Faults::parameter_store_write_failure,
     "the handlers' parameter-store writes fail"},
    {"cleanup-failure", &Faults::cleanup_failure,
     "deleting the stack fails on the FSx file system (DELETE_FAILED); it stays behind"},
};

constexpr int kDefaultThrottleCalls = 2;
constexpr int kMaxThrottleCalls = 10;

std::string KnownList() {
  std::string list;
  for (const FaultInfo& info : kFaults) {
    if (!list.empty()) list += ", ";
    list += info.name;
  }
  return list + ", throttle=N";
}

Status BadSpec(std::string_view spec, std::string_view why) {
  Status status = InvalidArgumentError("unknown fault '" + std::string(spec) + "'" +
                                       std::string(why) + "; known faults: " + KnownList());
  status.SetErrorName("InvalidFault");
  return status;
}

}  // namespace

StatusOr<Faults> ParseFaults(const std::vector<std::string>& specs) {
  Faults faults;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    const std::string_view name = std::string_view(spec).substr(0, eq);
    if (name == "throttle") {
      int n = kDefaultThrottleCalls;
      if (eq != std::string::npos) {
        const std::string_view digits = std::string_view(spec).substr(eq + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc() || end != digits.data() + digits.size() || n < 1 ||
            n > kMaxThrottleCalls) {
          return BadSpec(spec, " (throttle=N needs N between 1 and 10)");
        }
      }
      faults.throttle_calls = n;
      continue;
    }
    bool found = false;
    for (const FaultInfo& info : kFaults) {
      if (info.flag != nullptr && info.name == name && eq == std::string::npos) {
        faults.*info.flag = true;
        found = true;
      }
    }
    if (!found) return BadSpec(spec, "");
  }
  return faults;
}

std::vector<std::string> FaultSpecs(const Faults& faults) {
  std::vector<std::string> specs;
  for (const FaultInfo& info : kFaults) {
    if (info.flag == nullptr) {
      if (faults.throttle_calls > 0) {
        specs.push_back("throttle=" + std::to_string(faults.throttle_calls));
      }
    } else if (faults.*info.flag) {
      specs.emplace_back(info.name);
    }
  }
  return specs;
}

std::string FaultHelp() {
  std::string help;
  for (const FaultInfo& info : kFaults) {
    std::string name(info.name);
    name.resize(24, ' ');
    help += "  " + name + std::string(info.help) + "\n";
  }
  return help;
}

}  // namespace hpd::sandbox
