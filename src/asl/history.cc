#include "asl/history.h"

#include <array>
#include <chrono>

#include <boost/json.hpp>

namespace hpd::asl {
namespace {

struct TypeInfo {
  std::string_view name;
  std::string_view details_key;
};

constexpr std::array kTypeInfo = {
#define HPD_ASL_INFO_(e, name, details) TypeInfo{name, details},
    HPD_ASL_HISTORY_EVENT_TYPES(HPD_ASL_INFO_)
#undef HPD_ASL_INFO_
};
static_assert(kTypeInfo.size() == kHistoryEventTypeCount, "the API has 62 event types");

}  // namespace

std::string_view HistoryEventTypeName(HistoryEventType type) {
  return kTypeInfo[static_cast<size_t>(type)].name;
}

std::string_view HistoryEventDetailsKey(HistoryEventType type) {
  return kTypeInfo[static_cast<size_t>(type)].details_key;
}

std::optional<HistoryEventType> HistoryEventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kTypeInfo.size(); ++i) {
    if (kTypeInfo[i].name == name) return static_cast<HistoryEventType>(i);
  }
  return std::nullopt;
}

boost::json::object HistoryEventToJson(const HistoryEvent& event) {
  boost::json::object out;
  const auto since_epoch = event.timestamp.time_since_epoch();
  out["timestamp"] = std::chrono::duration<double>(since_epoch).count();
  out["type"] = HistoryEventTypeName(event.type);
  out["id"] = event.id;
  out["previousEventId"] = event.previous_event_id;
  std::string_view key = HistoryEventDetailsKey(event.type);
  if (!key.empty()) out[key] = HistoryEventDetails(event);
  return out;
}

boost::json::object HistoryEventDetails(const HistoryEvent& event) {
  if (event.details.empty()) return {};
  // Written by the interpreter as valid JSON; a parse failure would be a programmer error.
  boost::json::value parsed = boost::json::parse(event.details);
  return parsed.is_object() ? std::move(parsed.as_object()) : boost::json::object();
}

}  // namespace hpd::asl
