#include "asl/diagnostics.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace hpd::asl {

std::string_view SeverityName(Severity severity) {
  return severity == Severity::kError ? "ERROR" : "WARNING";
}

bool HasErrors(const std::vector<Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) {
    if (d.severity == Severity::kError) return true;
  }
  return false;
}

std::string DiagnosticsToJson(const std::vector<Diagnostic>& diagnostics) {
  boost::json::object out;
  out["result"] = HasErrors(diagnostics) ? "FAIL" : "OK";
  boost::json::array list;
  list.reserve(diagnostics.size());
  for (const auto& d : diagnostics) {
    boost::json::object item;
    item["severity"] = SeverityName(d.severity);
    item["code"] = d.code;
    item["message"] = d.message;
    item["location"] = d.location;
    list.emplace_back(std::move(item));
  }
  out["diagnostics"] = std::move(list);
  return SerializeJson(out);
}

std::string DiagnosticsToText(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    out += SeverityName(d.severity);
    out += ' ';
    out += d.code;
    if (!d.location.empty()) {
      out += " at ";
      out += d.location;
    }
    out += ": ";
    out += d.message;
    out += '\n';
  }
  return out;
}

}  // namespace hpd::asl
